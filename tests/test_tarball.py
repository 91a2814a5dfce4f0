"""The built collection is the product: `ansible-galaxy collection build` from the repository
root must ship roles, plugins, playbooks, meta, docs, README and LICENSE, and nothing of the
repository's own ops project, lab, tests, bench, tooling or secrets (galaxy.yml build_ignore)."""

import fnmatch
import pathlib
import shutil
import subprocess
import tarfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Members (or directories) the tarball must hold.
REQUIRED_FILES = ("meta/runtime.yml", "README.md", "LICENSE", "MANIFEST.json", "FILES.json")
REQUIRED_DIRS = ("roles", "plugins", "playbooks", "docs")

# Patterns no member may match, on its path or on any of its path components (fnmatch).
FORBIDDEN_TOP = (
    "inventories", "tests", "molecule", "bench", ".config", "collections", "Makefile", "ansible.cfg",
    "requirements*.txt", ".ci", ".venv*", ".artifacts", ".cache",
)
FORBIDDEN_ANYWHERE = ("group_vars", "vault.yml", "vault*.yml", "*vault-password*", "*vault_password*",
                      ".vault-pass*", ".venv*", ".artifacts", ".evidence")
FORBIDDEN_PREFIXES = ("changelogs/fragments/",)


def galaxy():
    """The controller venv's ansible-galaxy (bootstrap builds .venv), else the one on PATH."""
    venv = ROOT / ".venv/bin/ansible-galaxy"
    found = str(venv) if venv.exists() else shutil.which("ansible-galaxy")
    assert found, "no ansible-galaxy: run tests/bootstrap.sh (it builds .venv)"
    return found


def build_tarball(output_dir):
    """Build the collection from the repository root into output_dir; return the tarball's path."""
    output_dir = pathlib.Path(output_dir)
    proc = subprocess.run([galaxy(), "collection", "build", "--force", "--output-path", str(output_dir)],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, "ansible-galaxy collection build failed:\n%s%s" % (proc.stdout, proc.stderr)
    built = sorted(output_dir.glob("hx-litellm-*.tar.gz"))
    assert len(built) == 1, "expected one hx-litellm tarball in %s, found %s" % (output_dir, built)
    return built[0]


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    return build_tarball(tmp_path_factory.mktemp("collection-build"))


@pytest.fixture(scope="module")
def members(tarball):
    with tarfile.open(tarball) as tar:
        found = tar.getmembers()
        contents = {m.name: tar.extractfile(m).read(64) for m in found if m.isfile()}
    names = sorted(m.name.rstrip("/") for m in found)
    print("\n%s: %d members" % (tarball.name, len(names)))
    for member in sorted(found, key=lambda m: m.name):
        kind = "d" if member.isdir() else ("l" if member.issym() or member.islnk() else "f")
        print("  %s %8d %s" % (kind, member.size, member.name))
    return {"members": found, "names": names, "heads": contents}


def test_holds_the_product(members):
    names = set(members["names"])
    missing = [f for f in REQUIRED_FILES if f not in names]
    missing += [d + "/" for d in REQUIRED_DIRS if not any(n.startswith(d + "/") for n in names)]
    assert not missing, "the tarball lacks %s" % missing
    # Every role and playbook of the repository ships.
    for role in sorted(p.name for p in (ROOT / "roles").iterdir() if p.is_dir()):
        assert "roles/%s/tasks/main.yml" % role in names, "role %s is not in the tarball" % role
    for playbook in sorted(p.name for p in (ROOT / "playbooks").glob("*.yml")):
        assert "playbooks/%s" % playbook in names, "playbook %s is not in the tarball" % playbook


def test_holds_nothing_of_the_repository_project(members):
    offending = []
    for name in members["names"]:
        parts = name.split("/")
        if any(fnmatch.fnmatch(parts[0], pattern) for pattern in FORBIDDEN_TOP):
            offending.append(name)
        elif any(fnmatch.fnmatch(part, pattern) for part in parts for pattern in FORBIDDEN_ANYWHERE):
            offending.append(name)
        elif any((name + "/").startswith(prefix) for prefix in FORBIDDEN_PREFIXES):
            offending.append(name)
    assert not offending, "the tarball ships what galaxy.yml build_ignore should keep out: %s" % offending


def test_no_vault_file_and_no_symlink(members):
    vaulted = sorted(name for name, head in members["heads"].items() if head.lstrip().startswith(b"$ANSIBLE_VAULT"))
    assert not vaulted, "vault-encrypted files in the tarball: %s" % vaulted
    links = sorted(m.name for m in members["members"] if m.issym() or m.islnk())
    assert not links, "symlinks in the tarball: %s" % links
    odd = sorted(m.name for m in members["members"] if not (m.isfile() or m.isdir() or m.issym() or m.islnk()))
    assert not odd, "members that are neither files nor directories: %s" % odd
