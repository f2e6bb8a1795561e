#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: OpenClaw platform team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: docker_engine_info
short_description: Tell whether a Docker engine is installed or has run on the host
version_added: "0.1.0"
description:
  - The one Docker detection of the OpenClaw roles. C(openclaw_sysctl) turns IP forwarding
    on and C(openclaw_firewall) writes its DOCKER-USER policy when it says present; both keep
    C(openclaw_docker_enabled) as the override.
  - Docker counts as present when one of I(dockerd_paths) exists (Debian's C(docker.io)
    installs C(/usr/sbin/dockerd), Docker's own packages C(/usr/bin/dockerd)) or when the
    C(DOCKER-USER) iptables chain exists (an engine ran here, wherever its binary lives).
  - Never changes the host; it always runs, in check mode too.
author:
  - OpenClaw platform team
options:
  dockerd_paths:
    description: Paths of the C(dockerd) binary that mean "a Docker engine is installed".
    type: list
    elements: path
    default: [/usr/bin/dockerd, /usr/sbin/dockerd]
  docker_user_chain:
    description: Also look for Docker's C(DOCKER-USER) chain with C(iptables -w -n -L DOCKER-USER).
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Look for a Docker engine
  openclaw.platform.docker_engine_info:
  register: docker_engine

- name: Turn forwarding on where Docker runs
  ansible.builtin.debug:
    msg: "Docker present: {{ docker_engine.present }} ({{ docker_engine.reason }})"
"""

RETURN = r"""
present:
  description: Whether a Docker engine is installed or its DOCKER-USER chain exists.
  returned: always
  type: bool
dockerd:
  description: The first of I(dockerd_paths) that exists, empty when none does.
  returned: always
  type: str
  sample: /usr/sbin/dockerd
docker_user_chain:
  description: Whether the DOCKER-USER iptables chain exists (false when iptables is missing or the check is off).
  returned: always
  type: bool
reason:
  description: What the answer rests on, for play output and failure messages.
  returned: always
  type: str
  sample: /usr/sbin/dockerd exists
"""

import os

from ansible.module_utils.basic import AnsibleModule


def detect(module):
    """Return the detection result for the module's parameters."""
    dockerd = next((p for p in module.params["dockerd_paths"] if os.path.exists(p)), "")
    chain = False
    if module.params["docker_user_chain"]:
        iptables = module.get_bin_path("iptables")
        if iptables:
            rc, _out, _err = module.run_command([iptables, "-w", "-n", "-L", "DOCKER-USER"])
            chain = rc == 0
    if dockerd:
        reason = "%s exists" % dockerd
    elif chain:
        reason = "the DOCKER-USER iptables chain exists"
    else:
        reason = "none of %s exists and there is no DOCKER-USER chain" % ", ".join(
            module.params["dockerd_paths"]
        )
    return {
        "present": bool(dockerd) or chain,
        "dockerd": dockerd,
        "docker_user_chain": chain,
        "reason": reason,
    }


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dockerd_paths=dict(
                type="list", elements="path", default=["/usr/bin/dockerd", "/usr/sbin/dockerd"]
            ),
            docker_user_chain=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    module.exit_json(changed=False, **detect(module))


if __name__ == "__main__":
    main()
