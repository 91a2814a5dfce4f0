"""The installed-collection tests need a Docker engine (tests/bootstrap.sh starts one)."""

import pathlib

import pytest

import hxc_consumer


@pytest.fixture(scope="session", autouse=True)
def _docker_engine():
    if not hxc_consumer.docker_running():
        pytest.skip("needs a running Docker engine (tests/bootstrap.sh starts one)")


def pytest_collection_modifyitems(session, config, items):
    """The installed-collection tests go last: their lifecycles run in the background meanwhile."""
    here = pathlib.Path(__file__).parent
    mine = [item for item in items if here in pathlib.Path(str(item.path)).parents]
    items[:] = [item for item in items if item not in mine] + mine


def pytest_collection_finish(session):
    """Start the selected versions' lifecycles right away, in threads, so they run while the rest of
    the suite (the molecule scenarios) runs; their tests, collected later in the order, wait for them."""
    versions = sorted({item.callspec.params["consumer"] for item in session.items
                       if getattr(item, "callspec", None) is not None
                       and item.callspec.params.get("consumer") in hxc_consumer.VENVS})
    if not versions or session.config.option.collectonly or not hxc_consumer.docker_running():
        return
    factory = session.config._tmp_path_factory
    tarball = hxc_consumer.build_tarball(factory.mktemp("hxc-tarball"))
    for version in versions:
        if (hxc_consumer.VENVS[version] / "bin/ansible-playbook").exists():
            consumer = hxc_consumer.Consumer(version, tarball, factory.mktemp("hxc-consumer-%s-" % version))
            consumer.start()
            hxc_consumer.EARLY[version] = consumer


def pytest_terminal_summary(terminalreporter):
    """One line per lifecycle step of every version that ran (also in .artifacts/consumer-<v>.json)."""
    if hxc_consumer.SUMMARY:
        terminalreporter.section("hx.litellm installed from the tarball: lifecycle steps")
        for line in hxc_consumer.SUMMARY:
            terminalreporter.write_line(line)
