"""Shared pytest setup: make the collection importable as ansible_collections.hx.litellm."""

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
# collections/ansible_collections/hx/litellm links back to the repository root.
sys.path.insert(0, str(ROOT / "collections"))
