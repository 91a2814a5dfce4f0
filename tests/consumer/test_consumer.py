"""hx.litellm as an ops team uses it: `ansible-galaxy collection install` of the built tarball
into their own inventory project, then the playbooks by FQCN from that project, on
ansible-core 2.19 (.venv) and 2.21 (.venvs/ansible-2.21).

The project (under pytest's tmp dir, never in the repository) holds only ansible.cfg, the
inventory, group_vars beside it with the two models and the vaulted master key, the CA bundle
for the gateways, and the installed collection; the docker connection comes from the venv's
`ansible` package. Each version gets its own hosts (hxc-<v>-gw, hxc-<v>-llm on network hxc-<v>)
and runs: preflight (GO), enforce --check --diff (host untouched), enforce, enforce again
(changed=0), smoke (GO), a change (timeout 45), rollback (timeout back), enforce (changed=0), then a
certificate renewal (a new key in the vault, one restart), the OpenAI client over HTTPS, HTTPS
switched off and the rollback playbook back to it. The
gateway serves HTTPS with a certificate from the project's own CA (tests/support/pki.py), for its
name and address.
The lifecycles start when collection ends and run in a thread beside the rest of the suite, one
after the other (HX_CONSUMER_JOBS=2: both at once); each version's tests wait for theirs and assert on what it recorded.
Records: .artifacts/consumer-<v>.json. HX_KEEP_HOSTS=1 keeps the containers."""

import contextlib
import json
import re

import pytest
import yaml

import hxc_consumer as hc


def requested_versions(session):
    found = set()
    for item in session.items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("consumer") in hc.VENVS:
            found.add(callspec.params["consumer"])
    return sorted(found)


@pytest.fixture(scope="session")
def consumers(request, tmp_path_factory):
    """The lifecycles started when collection finished (conftest.py); or build the tarball once and start them now."""
    started = dict(hc.EARLY)
    tarball = None
    for version in requested_versions(request.session):
        if version in started:
            continue
        tarball = tarball or hc.build_tarball(tmp_path_factory.mktemp("hxc-tarball"))
        if not (hc.VENVS[version] / "bin/ansible-playbook").exists():
            continue  # the version's fixture fails, saying so
        started[version] = hc.Consumer(version, tarball, tmp_path_factory.mktemp("hxc-consumer-%s-" % version))
        started[version].start()
    yield started
    for consumer in started.values():
        consumer.teardown()


@pytest.fixture(scope="module", params=sorted(hc.VENVS), ids=lambda v: "ansible-core-%s" % v)
def consumer(request, consumers):
    """One version's project and hosts after its lifecycle ran; its containers go afterwards."""
    version = request.param
    venv = hc.VENVS[version]
    if not (venv / "bin/ansible-playbook").exists():
        pytest.fail("%s has no ansible-playbook: tests/bootstrap.sh builds the ansible-core %s venv"
                    % (venv.relative_to(hc.ROOT), version), pytrace=False)
    c = consumers[version]
    c.wait()
    print("\n".join(line for line in hc.SUMMARY if line.startswith("consumer %s:" % version)))
    yield c
    c.teardown()


@contextlib.contextmanager
def explained(c, step=None):
    """A failing assertion shows litellm's journal: right after the failed step if it failed, and now."""
    try:
        yield
    except (AssertionError, pytest.fail.Exception):
        if step in c.journals:
            print("\n--- %s: journalctl -u litellm -n 60 right after the step failed ---\n%s" % (step, c.journals[step]))
        print("\n--- docker exec %s journalctl -u litellm -n 60 --no-pager ---\n%s" % (c.gw, c.journal()))
        raise


def step(c, name):
    """The run of one step; a step that did not run fails the test saying why."""
    if name not in c.runs:
        why = c.error or "an earlier step failed: %s" % {s: r.returncode for s, r in c.runs.items()}
        pytest.fail("step %s did not run (%s)" % (name, why), pytrace=False)
    return c.runs[name]


def tail(run, chars=5000):
    return "rc=%d, last output:\n%s" % (run.returncode, run.stdout[-chars:])


def succeeded(c, name):
    run = step(c, name)
    with explained(c, name):
        assert run.returncode == 0, tail(run)
        assert run.recap(c.gw)["failures"] == 0, tail(run)
        assert run.recap(c.gw)["unreachable"] == 0, tail(run)
    return run


def bundles(c, playbook):
    return sorted(c.evidence.glob("%s/*/%s/summary.json" % (playbook, c.gw)))


def test_the_project_runs_the_installed_tarball_with_its_own_config(consumer):
    c = consumer
    assert c.notes.get("install", {}).get("rc") == 0, c.error or c.notes.get("install")
    assert c.notes["ansible_version"].startswith("ansible [core %s." % c.version), c.notes["ansible_version"]
    assert any(str(c.project / "ansible.cfg") in line for line in c.notes["ansible_config"]), c.notes["ansible_config"]
    installed = c.notes["collections_before"]
    assert "ansible_collections/hx/litellm/MANIFEST.json" in installed
    assert sorted(p for p in installed if p.count("/") == 1) == ["ansible_collections/hx"], \
        "only hx.litellm is installed in the project: %s" % sorted(p for p in installed if p.count("/") <= 2)
    # The docker connection (and everything else but hx.litellm) comes from the venv's `ansible` package.
    where = {name: path for path, found in c.notes["collection_list"].items() for name in found}
    assert where.get("hx.litellm") == str(c.collections / "ansible_collections"), where.get("hx.litellm")
    assert where.get("community.docker", "").startswith(str(c.venv)), where.get("community.docker")
    # Installed with --no-deps (Galaxy is not reachable): what galaxy.yml depends on comes from the venv.
    for dependency in yaml.safe_load((hc.ROOT / "galaxy.yml").read_text()).get("dependencies") or {}:
        assert where.get(dependency, "").startswith(str(c.venv)), "%s: %s" % (dependency, where.get(dependency))


def test_the_results_callback_loads(consumer):
    c = consumer
    assert c.runs, c.error
    problems = {}
    for name, run in c.runs.items():
        warnings = [line for line in run.stdout.splitlines() if re.search(r"\[(DEPRECATION )?WARNING\]|ERROR", line)]
        about_callback = [w for w in warnings if re.search(r"callback|hx_results", w, re.I)]
        if not run.records or not any(r["event"] == "stats" for r in run.records) or about_callback:
            problems[name] = {"records": len(run.records), "warnings": about_callback}
        if warnings:
            print("%s warnings: %s" % (name, warnings))
    assert not problems, "hx_results did not record (or warned) under %s: %s" % (c.notes["ansible_version"], problems)


def test_preflight_is_go(consumer):
    c = consumer
    succeeded(c, "preflight")
    found = bundles(c, "litellm_preflight")
    assert len(found) == 1, "one preflight bundle beside the inventory, found %s" % found
    summary = json.loads(found[0].read_text())
    assert summary["result"] == "GO", summary
    assert int(summary["counts"]["fail"]) == 0 and int(summary["counts"]["pass"]) > 0, summary["counts"]
    assert summary["host"] == c.gw


def test_check_diff_on_a_fresh_host_changes_nothing(consumer):
    c = consumer
    run = succeeded(c, "enforce-check")
    assert all(r["check_mode"] for r in run.records if r["event"] == "play")
    with explained(c, "enforce-check"):
        assert run.recap(c.gw)["changed"] > 0, "--check on a fresh host reports what it would change"
        assert c.notes["after_check"] == "untouched", \
            "--check --diff left /etc/litellm, /opt/litellm, the unit or the litellm user on %s" % c.gw


def test_enforce_converges(consumer):
    c = consumer
    run = succeeded(c, "enforce")
    with explained(c, "enforce"):
        assert run.recap(c.gw)["changed"] > 0
        assert run.on(c.gw, action="ansible.builtin.pip", status="changed"), "the venv was not installed"
        assert run.on(c.gw, file="configure.yml", action="ansible.builtin.template", status="changed")


def test_enforce_again_changes_nothing(consumer):
    c = consumer
    run = succeeded(c, "enforce-rerun")
    changed = [t["task"] for t in run.on(c.gw, status="changed")]
    with explained(c, "enforce-rerun"):
        assert run.recap(c.gw)["changed"] == 0, "a rerun changed: %s" % changed


def test_smoke_is_go(consumer):
    c = consumer
    succeeded(c, "smoke")
    found = bundles(c, "litellm_smoke")
    assert len(found) == 1, "one smoke bundle beside the inventory, found %s" % found
    summary = json.loads(found[0].read_text())
    assert summary["result"] == "GO", summary
    assert int(summary["counts"]["fail"]) == 0, summary["counts"]


def test_the_gateway_gets_the_interpreter_of_its_platform(consumer):
    """No variable names the Python: Debian 12 gets python3.11, Debian 13 (which ships no python3.11)
    its own python3.13, and the venv holds that Python's lock, as the smoke evidence records."""
    c = consumer
    succeeded(c, "enforce")
    with explained(c, "enforce"):
        own = [p for p in c.project.rglob("*.yml") if c.collections not in p.parents]
        assert own and not [p for p in own if "hx_litellm_proxy_python" in p.read_text()], own
        assert c.notes["platform"] == ["debian", c.debian, "/usr/bin/python%s" % c.python], c.notes["platform"]
    succeeded(c, "smoke")
    summary = json.loads(bundles(c, "litellm_smoke")[0].read_text())
    assert summary["measured"]["venv_lock"].endswith("-py%s.txt" % c.python), summary["measured"]
    assert [r["status"] for r in summary["checks"] if r["check"] == "venv_matches_lock"] == ["PASS"], summary["checks"]


def test_models_from_the_control_node(consumer):
    c = consumer
    step(c, "enforce")
    url = "%s/v1/models" % c.base_url()
    with explained(c):
        status, body = hc.http(url, c.key, cafile=c.ca_file)
        assert status == 200, (status, body)
        assert {m["id"] for m in body["data"]} == set(hc.MODELS), body
        status, _ = hc.http(url, cafile=c.ca_file)
        assert status == 401, "without the key: %s" % status
        status, _ = hc.http(url, "sk-" + "0" * 48, cafile=c.ca_file)
        print("%s /v1/models with a wrong key: HTTP %s" % (c.version, status))
        assert status in (400, 401), "with a wrong key: %s" % status


def test_a_change_is_applied(consumer):
    c = consumer
    run = succeeded(c, "change-timeout")
    with explained(c, "change-timeout"):
        assert float(c.notes["timeout_before_change"]) == 30.0, c.notes["timeout_before_change"]
        assert run.recap(c.gw)["changed"] > 0
        assert run.on(c.gw, file="configure.yml", action="ansible.builtin.template", status="changed")
        assert c.notes["timeout_after_change"] is not None and float(c.notes["timeout_after_change"]) == 45.0, \
            "router_settings.timeout on the host after -e hx_litellm_proxy_timeout=45: %r" % c.notes["timeout_after_change"]


def test_rollback_returns_to_the_previous_state(consumer):
    c = consumer
    run = succeeded(c, "rollback")
    with explained(c, "rollback"):
        assert run.on(c.gw, action="hx.litellm.gateway_release", status="changed"), "nothing was restored"
        timeout = c.notes["timeout_after_rollback"]
        assert timeout is not None and float(timeout) == 30.0, "router_settings.timeout after the rollback: %r" % timeout


def test_enforce_after_the_rollback_changes_nothing(consumer):
    c = consumer
    run = succeeded(c, "enforce-after-rollback")
    changed = [(t["file"], t["task"]) for t in run.on(c.gw, status="changed")]
    with explained(c, "enforce-after-rollback"):
        assert run.recap(c.gw)["changed"] == 0, "enforce on the rolled-back host changed: %s" % changed
        assert float(c.notes["timeout_at_end"]) == 30.0


def same_certificate(pem_a, pem_b):
    import ssl
    return ssl.PEM_cert_to_DER_cert(pem_a) == ssl.PEM_cert_to_DER_cert(pem_b)


def test_the_gateway_serves_https_that_the_projects_ca_verifies(consumer):
    """Every step spoke HTTPS: readiness waits, verify, preflight, smoke and rollback verified the
    certificate with the CA the project names (a failed verification fails them)."""
    c = consumer
    succeeded(c, "enforce-after-rollback")
    with explained(c):
        served, version = c.notes["served_before_rotation"]
        assert same_certificate(served, c.certificates[0]) and version in ("TLSv1.2", "TLSv1.3"), version
        unit = c.on_gw("systemctl cat litellm").stdout
        assert "--ssl_certfile_path /etc/litellm/tls.crt --ssl_keyfile_path /etc/litellm/tls.key" in unit
        assert c.on_gw("stat -c '%a %U:%G' /etc/litellm/tls.key").stdout.split() == ["640", "root:litellm"]
    for name in ("enforce", "change-timeout", "rollback"):
        waits = step(c, name).on(c.gw, action="hx.litellm.gateway_ready")
        assert waits and all(w["result"].get("ready") for w in waits), name
        assert all(w["result"]["url"].startswith("https://%s:4000" % c.gw) for w in waits), name
    smoke = json.loads(bundles(c, "litellm_smoke")[0].read_text())
    assert smoke["measured"]["base_url"].startswith("https://") and smoke["measured"]["tls"] is True, smoke["measured"]
    preflight = json.loads(bundles(c, "litellm_preflight")[0].read_text())
    tls = [r for r in preflight["checks"] if r["check"] == "tls"]
    assert [r["status"] for r in tls] == ["PASS"] and c.gw in tls[0]["detail"], tls
    print("%s: %s" % (c.version, tls[0]["detail"]))


def test_a_certificate_rotation_is_a_vault_edit_and_a_rerun_with_one_restart(consumer):
    c = consumer
    run = succeeded(c, "rotate-certificate")
    with explained(c, "rotate-certificate"):
        # The one systemd action that changed anything on a converged gateway: the restart.
        restarts = [t for t in run.on(c.gw, status="changed") if t["action"] == "ansible.builtin.systemd_service"]
        assert len(restarts) == 1, "restarts: %s" % restarts
        changed = sorted(t["task"] for t in run.on(c.gw, status="changed") if not t["handler"])
        assert any("certificate" in t for t in changed) and any("private key" in t for t in changed), changed
        served, _version = c.notes["served_after_rotation"]
        assert same_certificate(served, c.certificates[-1]) and not same_certificate(served, c.certificates[0])
        ready = run.on(c.gw, action="hx.litellm.gateway_ready")[-1]["result"]["elapsed"]
        print("%s: rotation run %.1fs, the new certificate ready %.1fs after the restart; handshakes %s"
              % (c.version, run.seconds, ready, c.notes["handshakes"]))
        assert c.notes["handshakes"]["ratio"] and c.notes["handshakes"]["ratio"] > 0


def test_https_switched_off_and_rolled_back_on_carries_its_files(consumer):
    c = consumer
    off = succeeded(c, "https-off")
    with explained(c, "https-off"):
        after = c.notes["after_https_off"]
        assert after["plain"] == 200 and not [f for f in after["files"] if f.startswith("tls")], after
        assert off.on(c.gw, action="hx.litellm.gateway_ready")[-1]["result"]["url"].startswith("http://127.0.0.1:")
    back = succeeded(c, "rollback-to-https")
    with explained(c, "rollback-to-https"):
        restored = back.on(c.gw, action="hx.litellm.gateway_release", status="changed")[0]["result"]["restored"]
        assert {"/etc/litellm/tls.crt", "/etc/litellm/tls.key", "/etc/litellm/tls-ca.crt"} <= set(restored), restored
        served, _version = c.notes["after_rollback_to_https"]["served"]
        assert same_certificate(served, c.certificates[-1])


def test_an_openai_client_lists_completes_and_streams_over_https(consumer):
    c = consumer
    succeeded(c, "rotate-certificate")
    found = c.notes["openai"]
    assert found["models"] == sorted(hc.MODELS), found
    assert found["completion"] and found["stream_chunks"] > 1 and found["streamed"], found
    assert found["without_ca"] and "CERTIFICATE_VERIFY_FAILED" in found["without_ca"], found["without_ca"]


def test_the_load_balancer_keeps_https_end_to_end(consumer):
    """HAProxy ([litellm_lb]) serves clients its own certificate, verified with the project's CA, and
    calls the HTTPS gateway verifying its certificate and name; the OpenAI client works through it."""
    c = consumer
    step(c, "rotate-certificate")
    lb = c.notes.get("lb")
    assert lb, "the load balancer was not reached: %s" % c.error
    served, version = lb["served"]
    assert same_certificate(served, c.lb_tls["cert"]) and version in ("TLSv1.2", "TLSv1.3")
    assert "ssl verify required ca-file" in lb["config"] and "verifyhost %s" % c.gw in lb["config"], lb["config"]
    assert lb["served_by"] == (200, c.gw)
    via_lb = c.notes["openai_via_lb"]
    assert via_lb["models"] == sorted(hc.MODELS) and via_lb["stream_chunks"] >= 2, via_lb
    assert via_lb["without_ca"] and "CERTIFICATE_VERIFY_FAILED" in via_lb["without_ca"], via_lb["without_ca"]
    # Every enforce set the load balancer up after the gateway; the first installed HAProxy.
    lb_recap = [r for r in step(c, "enforce").records if r["event"] == "stats"][-1]["hosts"].get(c.llm)
    assert lb_recap and lb_recap["failures"] == 0 and lb_recap["changed"] >= 1, lb_recap


def test_evidence_lands_beside_the_inventory(consumer):
    c = consumer
    assert c.evidence.is_dir(), "no %s" % c.evidence
    assert sorted(p.name for p in c.evidence.iterdir()) == ["litellm_preflight", "litellm_smoke"]
    for playbook in ("litellm_preflight", "litellm_smoke"):
        bundle = bundles(c, playbook)[0].parent
        for name in ("summary.json", "summary.md", "transcript.json", "config.yaml", "litellm.service", "journal.txt"):
            assert (bundle / name).is_file(), "%s lacks %s" % (bundle, name)
    written = [p for p in c.project.rglob("*") if ".evidence" in p.parts and not str(p).startswith(str(c.evidence))]
    assert not written, written


def test_nothing_is_written_inside_the_installed_collection(consumer):
    c = consumer
    before, after = c.notes["collections_before"], c.notes["collections_after"]
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    modified = sorted(p for p in set(before) & set(after) if before[p] != after[p])
    assert not (added or removed or modified), "written inside %s: added %s, removed %s, modified %s" % (
        c.collections, added[:20], removed[:20], modified[:20])


def test_the_master_key_is_never_shown(consumer):
    c = consumer
    assert c.runs, c.error
    shown = [name for name, run in c.runs.items() if c.key in run.stdout]
    assert not shown, "the master key appears in the output of %s" % shown
    assert not [o for o in c.outputs if c.key in o], "the master key appears in a command's output"
    files = [p for p in c.evidence.rglob("*") if p.is_file()]
    assert files
    leaked = [str(p.relative_to(c.project)) for p in files if c.key.encode() in p.read_bytes()]
    assert not leaked, "the master key is in evidence files %s" % leaked


def test_the_listeners_private_keys_are_never_shown(consumer):
    c = consumer
    # The gateway's first and renewed keys, and the load balancer's.
    assert len(c.tls_keys) == 3, c.tls_keys and len(c.tls_keys)
    # The base64 body of each key, whole or line by line.
    bodies = [line for key in c.tls_keys for line in key.splitlines() if line and not line.startswith("-----")]
    assert bodies
    shown = [name for name, run in c.runs.items() if any(b in run.stdout for b in bodies)]
    assert not shown, "a TLS key appears in the output of %s" % shown
    files = [p for p in c.evidence.rglob("*") if p.is_file()]
    leaked = [str(p.relative_to(c.project)) for p in files if any(b.encode() in p.read_bytes() for b in bodies)]
    assert not leaked, "a TLS key is in evidence files %s" % leaked
