"""gateway_release: known-good snapshots are saved once per state, ordered by when they last
served, restored exactly, and a step back goes further back each time (never forth)."""

import os

import pytest
from ansible_collections.hx.litellm.plugins.modules import gateway_release as mod


class Failed(Exception):
    pass


class FakeModule:
    def __init__(self, check_mode=False, diff=True):
        self.check_mode, self._diff = check_mode, diff

    def fail_json(self, msg, **_):
        raise Failed(msg)


@pytest.fixture
def host(tmp_path):
    live = tmp_path / "etc"
    live.mkdir()
    files = [str(live / "config.yaml"), str(live / "litellm.env"), str(live / "litellm.service")]

    def write(config, key="sk-one", unit="venvs/1.0"):
        for path, text in zip(files, (config, "LITELLM_MASTER_KEY=%s\n" % key, "ExecStart=/opt/%s/bin/litellm\n" % unit)):
            with open(path, "w") as handle:
                handle.write(text)

    params = {"backup_dir": str(tmp_path / "backups"), "files": files, "secret_files": [files[1]], "keep": 5,
              "target": "previous", "venvs_dir": "", "ready_seconds": None, "optional_files": []}
    return write, params, files


def run(kind, params, check_mode=False, **overrides):
    result = dict(changed=False, snapshot=None, snapshots=[], restored=[], pruned=[], set_aside=[], ready_seconds=None)
    module = FakeModule(check_mode)
    (mod.save if kind == "save" else mod.restore)(module, dict(params, **overrides), result)
    result["snapshots"] = [n for n, _ in mod.snapshots(params["backup_dir"])]
    return result


def content(path):
    with open(path) as handle:
        return handle.read()


def test_the_same_state_is_saved_once(host):
    write, params, _ = host
    write("a")
    first = run("save", params)
    again = run("save", params)
    assert first["changed"] and not again["changed"]
    assert again["snapshot"] == first["snapshot"] and len(again["snapshots"]) == 1
    stored = os.path.join(params["backup_dir"], first["snapshot"])
    assert oct(os.stat(stored).st_mode & 0o777) == "0o700"
    assert all(oct(os.stat(os.path.join(stored, f)).st_mode & 0o777) == "0o600" for f in os.listdir(stored))


def test_check_mode_saves_nothing(host):
    write, params, _ = host
    write("a")
    assert run("save", params, check_mode=True)["changed"]
    assert mod.snapshots(params["backup_dir"]) == []


def test_a_step_back_restores_exactly_and_then_goes_further_back(host):
    write, params, files = host
    for config in ("a", "b", "c"):
        write(config)
        run("save", params)
    back = run("restore", params)
    assert content(files[0]) == "b" and back["restored"] == [files[0]]
    # Enforcing the restored state records nothing new: it is the newest known-good state now.
    assert not run("save", params)["changed"]
    run("restore", params)
    assert content(files[0]) == "a"
    with pytest.raises(Failed, match="no earlier known-good state"):
        run("restore", params)
    assert os.listdir(os.path.join(params["backup_dir"], ".rolled-back"))


def test_a_state_that_serves_again_becomes_the_newest(host):
    write, params, files = host
    for config in ("a", "b", "a", "c"):
        write(config)
        run("save", params)
    run("restore", params)
    assert content(files[0]) == "a", "previous must be the state that served before c, not the older b"


def test_the_key_never_shows_in_a_diff(host):
    write, params, files = host
    write("a", key="sk-secret-old")
    run("save", params)
    write("a", key="sk-secret-new")
    result = dict(changed=False, snapshot=None, snapshots=[], restored=[], pruned=[], set_aside=[], ready_seconds=None)
    mod.restore(FakeModule(), dict(params, target="latest"), result)
    assert result["restored"] == [files[1]]
    assert "sk-secret" not in repr(result["diff"])
    assert content(files[1]) == "LITELLM_MASTER_KEY=sk-secret-old\n"


def test_retention_and_venv_pruning(host, tmp_path):
    _, params, files = host
    venvs = tmp_path / "opt" / "venvs"
    for version in ("1.0", "2.0", "3.0"):
        (venvs / version / "bin").mkdir(parents=True)

    def deploy(version, prune):
        with open(files[0], "w") as handle:
            handle.write("config for %s" % version)
        with open(files[1], "w") as handle:
            handle.write("LITELLM_MASTER_KEY=sk-one\n")
        with open(files[2], "w") as handle:
            handle.write("ExecStart=%s/bin/litellm\n" % (venvs / version))
        return run("save", params, keep=1, venvs_dir=str(venvs) if prune else "")

    deploy("1.0", prune=False)
    result = deploy("2.0", prune=True)
    # keep=1 drops the 1.0 snapshot, so 1.0's venv goes; 3.0 was never used; 2.0 serves.
    assert sorted(os.listdir(venvs)) == ["2.0"], result["pruned"]
    assert len(mod.snapshots(params["backup_dir"])) == 1


def test_a_snapshot_keeps_how_long_its_state_took_to_be_ready(host):
    """The restored state's own readiness budget comes from here, never from the failed change's."""
    write, params, files = host
    write("a: 1\n")
    first = run("save", params, ready_seconds=12.5)
    assert first["changed"] and first["ready_seconds"] == 12.5
    # An idempotent run (nothing restarted, no new figure) keeps the recorded one and changes nothing.
    again = run("save", params)
    assert not again["changed"] and again["snapshot"] == first["snapshot"] and again["ready_seconds"] == 12.5
    # A later restart of the same state records its new figure, still without a change of state.
    faster = run("save", params, ready_seconds=9.0)
    assert not faster["changed"] and faster["ready_seconds"] == 9.0
    write("a: 2\n")
    run("save", params, ready_seconds=30.0)
    restored = run("restore", params, target="previous")
    assert restored["snapshot"] == first["snapshot"] and restored["ready_seconds"] == 9.0


def test_switching_https_on_or_off_rolls_back_file_for_file_without_showing_the_key(host, tmp_path):
    """The listener's certificate and key are optional files: a snapshot holds them when they existed,
    a restore removes those its snapshot lacks, and the key's content never reaches a diff."""
    write, params, files = host
    tls = [str(tmp_path / "etc" / name) for name in ("tls.crt", "tls.key")]
    params = dict(params, optional_files=tls, secret_files=[files[1], tls[1]])
    write("plain")
    plain = run("save", params)["snapshot"]
    write("https")
    for path, text in zip(tls, ("CERT\n", "-----BEGIN PRIVATE KEY-----\nSECRETBODY\n")):
        with open(path, "w") as handle:
            handle.write(text)
    https = run("save", params)
    assert https["changed"] and https["snapshot"] != plain
    # HTTPS -> plain: back to the plain state, the certificate and key gone with it.
    back = run("restore", params, target=plain)
    assert sorted(back["restored"]) == sorted([files[0]] + tls)
    assert not any(os.path.exists(p) for p in tls) and content(files[0]) == "plain"
    # plain -> HTTPS (a rollback of a change that turned HTTPS off): the files come back, the key hidden.
    module = FakeModule()
    result = dict(changed=False, snapshot=None, snapshots=[], restored=[], pruned=[], set_aside=[], ready_seconds=None)
    mod.restore(module, dict(params, target=https["snapshot"]), result)
    assert content(tls[1]).endswith("SECRETBODY\n") and content(files[0]) == "https"
    assert "SECRETBODY" not in str(result)
    # The live state matches its snapshot again, so a step back goes to the plain one.
    assert run("save", params)["snapshot"] == https["snapshot"]
    assert run("restore", params, check_mode=True)["snapshot"] == plain
