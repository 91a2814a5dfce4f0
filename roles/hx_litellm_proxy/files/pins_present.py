# Managed by Ansible (hx.litellm.hx_litellm_proxy); local edits are overwritten.
# No shebang: the role runs it with the venv's python (ansible.builtin.script's executable).
"""Exit 0 only when every requirement in argv[1] (a JSON list) is installed at a matching version.

Run with the venv's python before the pip task: it asks the same question the pip module asks
(the named packages, not their dependencies) without listing every package of the 750 MB venv.
Read-only; prints why on stderr when a pin is missing or at another version.
"""

import json
import sys
from importlib.metadata import PackageNotFoundError, version

try:
    from packaging.requirements import Requirement
except ImportError:  # a venv without packaging still has pip's copy
    from pip._vendor.packaging.requirements import Requirement


def unmet(specs):
    """The first requirement that is not satisfied, as a sentence, or None."""
    for spec in specs:
        want = Requirement(spec)
        try:
            have = version(want.name)
        except PackageNotFoundError:
            return "missing %s" % want.name
        if not want.specifier.contains(have, prereleases=True):
            return "%s %s does not match %s" % (want.name, have, spec)
    return None


if __name__ == "__main__":
    reason = unmet(json.loads(sys.argv[1]))
    sys.exit(reason)
