"""What a failing service test prints besides litellm's journal, shared by the molecule scenarios
and the installed-collection lifecycles: whether a slow start was computing or stuck (the service's
processes and their CPU time) and how loaded this machine was."""

import subprocess

# Run inside a gateway (sh -c).
SERVICE_PROCESSES = ("systemctl show -p ActiveState -p SubState -p NRestarts litellm; "
                     "ps -o pid,etime,time,rss,stat,wchan:20,args -u litellm | cut -c1-160")


def machine_load():
    """uptime, free -m and df of this machine, as text."""
    return subprocess.run("uptime; free -m; df -h / /tmp", shell=True, capture_output=True, text=True).stdout
