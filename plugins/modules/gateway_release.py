#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hx.litellm contributors
# Apache License 2.0 (see LICENSE)
"""Known-good snapshots of a gateway's files: save, restore, prune."""

from __future__ import annotations

DOCUMENTATION = r"""
module: gateway_release
short_description: Keep known-good snapshots of a LiteLLM gateway's files and restore them
version_added: 0.1.0
author: hx.litellm contributors (!UNKNOWN)
description:
  - C(state=saved) copies the live files (config, environment file, unit) into a new timestamped
    snapshot under O(backup_dir), unless a retained snapshot already holds exactly the same content
    (an older one is then renamed to be the newest, as snapshots are ordered by when they last served);
    it returns the name of the snapshot that matches the live state either way, and prunes the
    oldest snapshots beyond O(keep).
  - C(state=restored) copies a snapshot's files back (atomically, with their owner and mode) where
    they differ from the live files, and reports which files it restored.
  - Snapshots are root-only (directories 0700, files 0600), as they hold the environment file.
  - The content of O(secret_files) never appears in a diff or a result.
options:
  state:
    description:
      - Save the live state, restore a snapshot, or only report the newest snapshot (C(queried), for a host
        that does not serve before a change, whose newest known-good state is then the rollback target).
    type: str
    choices: [saved, restored, queried]
    required: true
  backup_dir:
    description: Directory holding one sub-directory per snapshot.
    type: path
    required: true
  files:
    description: Live files a snapshot holds (absolute paths).
    type: list
    elements: path
    required: true
  optional_files:
    description:
      - Files a state holds only when they exist (an HTTPS listener's certificate, key and CA). A snapshot
        holds those that existed when it was saved; a restore removes those its snapshot does not hold,
        so the restored state is the saved one, file for file.
    type: list
    elements: path
    default: []
  secret_files:
    description: Files among O(files) and O(optional_files) whose content is never shown in a diff.
    type: list
    elements: path
    default: []
  keep:
    description: Snapshots kept after a save (the oldest are removed first).
    type: int
    default: 5
  target:
    description:
      - For C(state=restored). C(previous) restores the newest snapshot older than the one that matches
        the live state (on-demand rollback; repeated runs step further back). A snapshot name restores
        that snapshot (the automatic rollback names the snapshot it saved before the change).
        C(latest) restores the newest snapshot.
      - A step back (C(previous)) sets the snapshots newer than the restored one aside, so the restored
        state is the newest known-good one and the next step goes further back.
    type: str
    default: previous
  ready_seconds:
    description:
      - For C(state=saved). How long the saved state took to report ready after its last start; kept in
        the snapshot, so that a rollback to it waits with a budget of its own.
    type: float
  venvs_dir:
    description:
      - For C(state=saved). Directory of versioned venvs; a venv that neither the live files nor any
        retained snapshot refer to is removed. Empty disables pruning.
    type: path
    default: ""
"""

EXAMPLES = r"""
- name: Keep the serving state as known-good
  hx.litellm.gateway_release:
    state: saved
    backup_dir: /var/backups/litellm
    files: [/etc/litellm/config.yaml, /etc/litellm/litellm.env, /etc/systemd/system/litellm.service]
    secret_files: [/etc/litellm/litellm.env]

- name: Step back to the previous known-good state
  hx.litellm.gateway_release:
    state: restored
    target: previous
    backup_dir: /var/backups/litellm
    files: [/etc/litellm/config.yaml, /etc/litellm/litellm.env, /etc/systemd/system/litellm.service]
    secret_files: [/etc/litellm/litellm.env]
"""

RETURN = r"""
snapshot:
  description: Name of the snapshot saved/matched (saved) or restored (restored); null when there is none.
  type: str
  returned: always
snapshots:
  description: Names of the retained snapshots, oldest first.
  type: list
  returned: always
ready_seconds:
  description: How long the snapshot's state took to report ready, as recorded; null when never recorded.
  type: float
  returned: always
restored:
  description:
    - Live files that were (or in check mode would be) overwritten from the snapshot, and optional files
      removed because the snapshot does not hold them.
  type: list
  returned: always
pruned:
  description: Snapshots and venvs removed (or that would be removed).
  type: list
  returned: always
set_aside:
  description:
    - For C(target=previous), the snapshots newer than the restored one, moved to C(.rolled-back/) in
      O(backup_dir) (the newest O(keep) of those are kept there) so that the next step goes further back.
  type: list
  returned: always
"""

import datetime
import hashlib
import json
import os
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule

MANIFEST = "manifest.json"
ROLLED_BACK = ".rolled-back"


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(65536), b""):
            digest.update(block)
    return digest.hexdigest()


def live_state(files):
    """path -> sha256 of the live files that exist."""
    return {path: sha256(path) for path in files if os.path.isfile(path)}


def state_files(params):
    """The files of the live state: the required ones, and the optional ones that exist."""
    return list(params["files"]) + [path for path in params["optional_files"] if os.path.isfile(path)]


def snapshots(backup_dir):
    """Retained snapshots, oldest first: list of (name, manifest)."""
    found = []
    if not os.path.isdir(backup_dir):
        return found
    for name in sorted(os.listdir(backup_dir)):
        manifest = os.path.join(backup_dir, name, MANIFEST)
        if not name.startswith(".") and os.path.isfile(manifest):
            with open(manifest) as handle:
                found.append((name, json.load(handle)))
    return found


def content_of(manifest):
    return {entry["path"]: entry["sha256"] for entry in manifest["files"]}


def read_text(path):
    with open(path, "rb") as handle:
        return handle.read().decode("utf-8", "replace")


def new_name(backup_dir):
    """A UTC stamp that sorts after every existing snapshot (several saves may share a second)."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    taken = [n for n in (os.listdir(backup_dir) if os.path.isdir(backup_dir) else []) if not n.startswith(".")]
    name, n = stamp, 1
    while name in taken or (taken and name <= max(taken)):
        n += 1
        name = "%s-%03d" % (stamp, n)
    return name


def save(module, params, result):
    files, backup_dir = state_files(params), params["backup_dir"]
    live = live_state(files)
    missing = [path for path in params["files"] if path not in live]
    existing = snapshots(backup_dir)
    if missing:
        # A partial state is not a deployable one: nothing to save.
        result["msg"] = "not saved, missing: %s" % ", ".join(missing)
    else:
        match = [name for name, manifest in existing if content_of(manifest) == live]
        if match and match[-1] == existing[-1][0]:
            result["snapshot"] = match[-1]
            record_ready(module, backup_dir, match[-1], existing[-1][1], params["ready_seconds"])
        elif match:
            # An older known-good state serves again (e.g. a change was reverted): it becomes the
            # newest, so "previous" keeps meaning "the state that served before this one".
            name = new_name(backup_dir)
            result.update(changed=True, snapshot=name, restamped=match[-1])
            manifest = dict(existing)[match[-1]]
            existing = [e for e in existing if e[0] != match[-1]] + [(name, manifest)]
            if not module.check_mode:
                os.rename(os.path.join(backup_dir, match[-1]), os.path.join(backup_dir, name))
            record_ready(module, backup_dir, name, manifest, params["ready_seconds"])
        else:
            name = new_name(backup_dir)
            result.update(changed=True, snapshot=name)
            manifest = {"files": [{"path": p, "sha256": live[p]} for p in files], "ready_seconds": params["ready_seconds"]}
            existing.append((name, manifest))
            if not module.check_mode:
                write_snapshot(backup_dir, name, files, live, params["ready_seconds"])
    keep = max(params["keep"], 1)
    doomed = [name for name, _manifest in existing[:-keep] if name != result["snapshot"]] if len(existing) > keep else []
    for name in doomed:
        result["pruned"].append(os.path.join(backup_dir, name))
        if not module.check_mode:
            shutil.rmtree(os.path.join(backup_dir, name))
    retained = [(n, m) for n, m in existing if n not in doomed]
    result["ready_seconds"] = dict(retained).get(result["snapshot"], {}).get("ready_seconds")
    result["snapshots"] = [n for n, _manifest in retained]
    if params["venvs_dir"]:
        prune_venvs(module, params, retained, result)
    result["changed"] = result["changed"] or bool(result["pruned"])


def record_ready(module, backup_dir, name, manifest, seconds):
    """Keep how long the state took to be ready in its manifest (metadata: not a change of state)."""
    if seconds is None or manifest.get("ready_seconds") == seconds:
        return
    manifest["ready_seconds"] = seconds
    if not module.check_mode:
        path = os.path.join(backup_dir, name, MANIFEST)
        with open(path) as handle:
            stored = json.load(handle)
        stored["ready_seconds"] = seconds
        handle, temp = tempfile.mkstemp(prefix=".manifest.", dir=os.path.dirname(path))
        with os.fdopen(handle, "w") as out:
            json.dump(stored, out, indent=2)
        os.chmod(temp, 0o600)
        os.rename(temp, path)


def write_snapshot(backup_dir, name, files, live, ready_seconds=None):
    os.makedirs(backup_dir, mode=0o700, exist_ok=True)
    os.chmod(backup_dir, 0o700)
    target = os.path.join(backup_dir, name)
    staging = tempfile.mkdtemp(prefix=".%s." % name, dir=backup_dir)
    entries = []
    for index, path in enumerate(files):
        stored = "%d-%s" % (index, os.path.basename(path))
        shutil.copyfile(path, os.path.join(staging, stored))
        os.chmod(os.path.join(staging, stored), 0o600)
        st = os.stat(path)
        entries.append({"path": path, "stored": stored, "sha256": live[path],
                        "mode": "%04o" % (st.st_mode & 0o7777), "uid": st.st_uid, "gid": st.st_gid})
    with open(os.path.join(staging, MANIFEST), "w") as handle:
        json.dump({"created": name, "files": entries, "ready_seconds": ready_seconds}, handle, indent=2)
    os.chmod(os.path.join(staging, MANIFEST), 0o600)
    os.chmod(staging, 0o700)
    # A snapshot appears whole or not at all.
    os.rename(staging, target)


def prune_venvs(module, params, retained, result):
    venvs_dir = params["venvs_dir"]
    if not os.path.isdir(venvs_dir):
        return
    texts = [read_text(path) for path in state_files(params) if os.path.isfile(path)]
    for name, manifest in retained:
        for entry in manifest["files"]:
            stored = os.path.join(params["backup_dir"], name, entry.get("stored", ""))
            if os.path.isfile(stored):
                texts.append(read_text(stored))
    for entry in sorted(os.listdir(venvs_dir)):
        venv = os.path.join(venvs_dir, entry)
        if os.path.isdir(venv) and not any(venv + "/" in text for text in texts):
            result["pruned"].append(venv)
            if not module.check_mode:
                shutil.rmtree(venv)


def pick(module, params, existing, live):
    """(snapshot to restore, snapshots newer than it that a step back sets aside)."""
    names = [name for name, _manifest in existing]
    target = params["target"]
    if target == "latest":
        return existing[-1], []
    if target != "previous":
        if target not in names:
            module.fail_json(msg="no snapshot named %s in %s; retained: %s"
                             % (target, params["backup_dir"], ", ".join(names) or "none"), **RESULT)
        return existing[names.index(target)], []
    matches = [i for i, (_name, manifest) in enumerate(existing) if content_of(manifest) == live]
    if not matches:
        # The live state was never known-good (a change half applied): go back to the newest good one.
        return existing[-1], []
    if matches[-1] == 0:
        module.fail_json(msg="the live state is the oldest retained snapshot (%s): there is no earlier "
                             "known-good state to roll back to" % names[0], **RESULT)
    # One step back: the states newer than the restored one leave the line of known-good states
    # (kept aside in .rolled-back/), so the next step goes further back instead of forth.
    return existing[matches[-1] - 1], names[matches[-1]:]


def restore(module, params, result):
    existing = snapshots(params["backup_dir"])
    if not existing:
        result["msg"] = "no known-good snapshot in %s: nothing to restore" % params["backup_dir"]
        return
    live = live_state(state_files(params))
    (name, manifest), set_aside = pick(module, params, existing, live)
    result["snapshot"] = name
    result["ready_seconds"] = manifest.get("ready_seconds")
    result["set_aside"] = set_aside
    diffs = []
    for entry in manifest["files"]:
        path = entry["path"]
        if live.get(path) == entry["sha256"]:
            continue
        stored = os.path.join(params["backup_dir"], name, entry["stored"])
        result["restored"].append(path)
        if path in params["secret_files"]:
            diffs.append({"before_header": path, "after_header": "%s (snapshot %s)" % (path, name),
                          "before": "(content hidden)\n", "after": "(content hidden, restored)\n"})
        else:
            diffs.append({"before_header": path, "after_header": "%s (snapshot %s)" % (path, name),
                          "before": read_text(path) if os.path.isfile(path) else "",
                          "after": read_text(stored)})
        if not module.check_mode:
            put_back(stored, path, entry)
    held = {entry["path"] for entry in manifest["files"]}
    for path in params["optional_files"]:
        if path in live and path not in held:
            result["restored"].append(path)
            diffs.append({"before_header": path, "after_header": "%s (absent from snapshot %s)" % (path, name),
                          "before": "(content hidden)\n" if path in params["secret_files"] else read_text(path),
                          "after": ""})
            if not module.check_mode:
                os.unlink(path)
    if set_aside and not module.check_mode:
        aside = os.path.join(params["backup_dir"], ROLLED_BACK)
        os.makedirs(aside, mode=0o700, exist_ok=True)
        for other in set_aside:
            os.rename(os.path.join(params["backup_dir"], other), os.path.join(aside, other))
        for old in sorted(os.listdir(aside))[:-max(params["keep"], 1)]:
            shutil.rmtree(os.path.join(aside, old))
    result["changed"] = bool(result["restored"]) or bool(set_aside)
    if module._diff and diffs:
        result["diff"] = diffs


def put_back(stored, path, entry):
    directory = os.path.dirname(path)
    handle, temp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    os.close(handle)
    try:
        shutil.copyfile(stored, temp)
        os.chown(temp, entry["uid"], entry["gid"])
        os.chmod(temp, int(entry["mode"], 8))
        os.rename(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


RESULT = {}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", required=True, choices=["saved", "restored", "queried"]),
            backup_dir=dict(type="path", required=True),
            files=dict(type="list", elements="path", required=True),
            optional_files=dict(type="list", elements="path", default=[]),
            # Paths of files whose content is hidden, not secrets themselves: they show in results.
            secret_files=dict(type="list", elements="path", default=[], no_log=False),
            keep=dict(type="int", default=5),
            target=dict(type="str", default="previous"),
            venvs_dir=dict(type="path", default=""),
            ready_seconds=dict(type="float"),
        ),
        supports_check_mode=True,
    )
    result = RESULT
    result.update(changed=False, snapshot=None, snapshots=[], restored=[], pruned=[], set_aside=[],
                  ready_seconds=None)
    if module.params["state"] == "saved":
        save(module, module.params, result)
    elif module.params["state"] == "queried":
        existing = snapshots(module.params["backup_dir"])
        result["snapshots"] = [name for name, _manifest in existing]
        if existing:
            result["snapshot"] = existing[-1][0]
            result["ready_seconds"] = existing[-1][1].get("ready_seconds")
    else:
        restore(module, module.params, result)
        result["snapshots"] = [name for name, _manifest in snapshots(module.params["backup_dir"])]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
