#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: OpenClaw platform team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: sysctl_live
short_description: Apply many kernel parameters live in one task, in order, and read them back
version_added: "0.1.0"
description:
  - Sets the running value of each kernel parameter of I(settings) that differs, through
    C(/proc/sys), in the order given, and returns every parameter's value read back afterwards.
  - The order matters on Linux; writing C(net.ipv4.ip_forward) resets
    C(net.ipv4.conf.all.accept_redirects), so each parameter is read just before it is
    compared, after the writes of the parameters before it.
  - One module call for the whole set, where C(ansible.posix.sysctl) takes one task per
    parameter (a round trip to the host each; 40 parameters cost about 35 s per host).
  - Values compare with their whitespace folded (C(4096 87380 6291456) equals the kernel's
    tab-separated form).
  - Writes nothing to disk; persisting the values is the role's template (C(/etc/sysctl.d)).
  - Supports check mode (reports what would change) and diff mode.
author:
  - OpenClaw platform team
options:
  settings:
    description:
      - Parameter name (dotted, as C(sysctl) writes it) to wanted value. A C(/) in a name
        stands for a dot inside one component, as in C(sysctl), e.g. C(net.ipv4.conf.eth0/1.rp_filter).
    type: dict
    required: true
  proc_root:
    description: Where the kernel's parameters are (a test can point it at a copy).
    type: path
    default: /proc/sys
"""

EXAMPLES = r"""
- name: Apply the kernel parameters live
  openclaw.platform.sysctl_live:
    settings:
      net.ipv4.ip_forward: 1
      net.core.somaxconn: 4096
      net.ipv4.tcp_rmem: 4096 87380 6291456
  register: applied

- name: Show what changed
  ansible.builtin.debug:
    var: applied.changed_keys
"""

RETURN = r"""
changed_keys:
  description: The parameters whose value was (or, in check mode, would be) written, with the value before and the wanted one.
  returned: always
  type: dict
  sample: {"net.core.somaxconn": {"before": "128", "after": "4096"}}
live:
  description: Every parameter's value read back at the end (in check mode, the values found), whitespace folded.
  returned: always
  type: dict
  sample: {"net.core.somaxconn": "4096"}
"""

import errno
import os

from ansible.module_utils.basic import AnsibleModule


def proc_path(root, name):
    """sysctl's name to its /proc/sys file: dots separate components, a slash is a dot."""
    parts = [p.replace("/", ".") for p in name.split(".")]
    return os.path.join(root, *parts)


def fold(value):
    """A value as sysctl shows it, whitespace folded to single spaces."""
    return " ".join(str(value).split())


def read(path):
    with open(path) as handle:
        return fold(handle.read())


def apply(module, settings, root, check_mode):
    """Read, compare and write each parameter in order; returns (changed_keys, live)."""
    changed = {}
    for name, want in settings.items():
        path = proc_path(root, name)
        try:
            before = read(path)
        except (IOError, OSError) as exc:
            if exc.errno == errno.ENOENT:
                module.fail_json(
                    msg="The kernel has no parameter %s (%s does not exist). Remove it from the "
                    "settings (openclaw_sysctl_extra_settings), or load the kernel module that "
                    "provides it first." % (name, path),
                    changed_keys=changed,
                )
            module.fail_json(
                msg="Cannot read %s (%s): %s" % (name, path, exc), changed_keys=changed
            )
        if before == fold(want):
            continue
        changed[name] = {"before": before, "after": fold(want)}
        if check_mode:
            continue
        try:
            with open(path, "w") as handle:
                handle.write(fold(want) + "\n")
        except (IOError, OSError) as exc:
            module.fail_json(
                msg="Cannot set %s to %r (%s): %s. In a container, host-wide parameters are "
                "read-only: leave them to the host (openclaw_sysctl_host_wide_live)."
                % (name, fold(want), path, exc.strerror or exc),
                changed_keys=changed,
            )
    live = {}
    for name in settings:
        try:
            live[name] = read(proc_path(root, name))
        except (IOError, OSError) as exc:
            module.fail_json(msg="Cannot read %s back: %s" % (name, exc), changed_keys=changed)
    return changed, live


def main():
    module = AnsibleModule(
        argument_spec=dict(
            settings=dict(type="dict", required=True),
            proc_root=dict(type="path", default="/proc/sys"),
        ),
        supports_check_mode=True,
    )
    settings = module.params["settings"]
    bad = sorted(str(k) for k, v in settings.items() if v is None or isinstance(v, (dict, list)))
    if bad:
        module.fail_json(
            msg="settings: each value must be a number or a string, not empty, a list or a "
            "mapping; fix: %s" % ", ".join(bad)
        )
    changed, live = apply(module, settings, module.params["proc_root"], module.check_mode)
    result = {"changed": bool(changed), "changed_keys": changed, "live": live}
    if module._diff and changed:
        result["diff"] = {
            "before": "".join("%s = %s\n" % (k, v["before"]) for k, v in changed.items()),
            "after": "".join("%s = %s\n" % (k, v["after"]) for k, v in changed.items()),
        }
    module.exit_json(**result)


if __name__ == "__main__":
    main()
