"""Drives an interactive console client in a pseudo-terminal (virsh console needs a TTY).

    python3 pty-console.py PROGRAM ARGS...

Waits for the guest's "login: " prompt, types "hello", waits for the echo "HELLO", sends the
escape character ^] and waits for the client to exit. Prints a JSON object: the transcript and
the exit status. Used by src/rpc/console.test.ts.
"""
import json
import os
import pty
import select
import sys
import time

pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])

out = b""


def read_until(token, timeout):
    global out
    deadline = time.time() + timeout
    while token not in out and time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                return False
            if not chunk:
                return False
            out += chunk
    return token in out


steps = []
steps.append(read_until(b"login: ", 10))
os.write(fd, b"hello")
steps.append(read_until(b"HELLO", 10))
os.write(fd, b"\x1d")
deadline = time.time() + 10
status = None
while time.time() < deadline:
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        status = os.waitstatus_to_exitcode(st)
        break
    r, _, _ = select.select([fd], [], [], 0.05)
    if r:
        try:
            out += os.read(fd, 4096)
        except OSError:
            pass
if status is None:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
print(json.dumps({"steps": steps, "status": status, "transcript": out.decode("utf-8", "replace")}))
