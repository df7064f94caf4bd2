#!/usr/bin/env python3
"""Opens tap devices and executes a program with them as inherited file descriptors.

Used by the QEMU acceptance test (qemu-accepts.test.ts): Node cannot issue the TUNSETIFF
ioctl, so this helper opens /dev/net/tun once per tap, attaches it to the named interface
(creating it in the current network namespace), moves it to the descriptor number the command
line names (libvirt's `"fd":"N"`), and replaces itself with the program (execv: same PID).

Usage: tap-exec.py [--tap NAME:FD[:vnet]]... -- PROGRAM [ARG]...

`vnet` asks for IFF_VNET_HDR (what libvirt does for virtio NICs). No shell is involved.
"""
import fcntl
import os
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000
PARK_FD = 200  # taps are opened above this first, so opening never collides with a target


def fail(msg: str) -> None:
    sys.stderr.write(f"tap-exec: {msg}\n")
    sys.exit(125)


def main(argv: list) -> None:
    taps = []
    i = 0
    while i < len(argv) and argv[i] != "--":
        if argv[i] != "--tap" or i + 1 >= len(argv):
            fail(f"unexpected argument {argv[i]!r}")
        parts = argv[i + 1].split(":")
        if len(parts) not in (2, 3) or not parts[1].isdigit() or len(parts[0]) >= 16:
            fail(f"bad tap spec {argv[i + 1]!r} (NAME:FD[:vnet])")
        taps.append((parts[0], int(parts[1]), len(parts) == 3 and parts[2] == "vnet"))
        i += 2
    program = argv[i + 1 :]
    if not program:
        fail("no program after --")
    parked = []
    for name, target, vnet in taps:
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
        flags = IFF_TAP | IFF_NO_PI | (IFF_VNET_HDR if vnet else 0)
        try:
            fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), flags))
        except OSError as e:
            fail(f"TUNSETIFF {name}: {e}")
        high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, PARK_FD)
        os.close(fd)
        parked.append((high, target))
    for high, target in parked:
        os.dup2(high, target, inheritable=True)
    for high, _ in parked:
        os.close(high)
    try:
        os.execv(program[0], program)
    except OSError as e:
        fail(f"exec {program[0]}: {e}")


main(sys.argv[1:])
