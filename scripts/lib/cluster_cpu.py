"""CPU seconds used so far by a PostgreSQL cluster: its postmaster (with the children it has reaped) and
every live process under it, from /proc. Usage: python3 cluster_cpu.py POSTMASTER_PID"""
import os
import sys


def stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    return text[text.rindex(")") + 2:].split()


def ticks(fields, children=False):
    return sum(int(x) for x in fields[11:15 if children else 13])


postmaster = int(sys.argv[1])
total = ticks(stat(postmaster), children=True)
for entry in os.listdir("/proc"):
    if entry.isdigit():
        try:
            fields = stat(entry)
            if int(fields[1]) == postmaster:
                total += ticks(fields)
        except (OSError, ValueError, IndexError):
            pass
print(total / os.sysconf("SC_CLK_TCK"))
