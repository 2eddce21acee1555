#!/usr/bin/env python3
"""Stop one thread of another process, leaving its other threads running, until stdin closes.

  freeze-thread.py TID

ptrace(PTRACE_SEIZE) and PTRACE_INTERRUPT act on the one thread they name (a signal such as
SIGSTOP would stop the whole process). Prints "stopped" once the thread is stopped; detaching
(at stdin's end, or when this process dies) lets the thread run on. Used by the e2e suite to
stop gnome-keyring's main loop while its D-Bus thread still answers Ping.
"""
import ctypes
import os
import sys

PTRACE_SEIZE, PTRACE_INTERRUPT, PTRACE_DETACH = 0x4206, 0x4207, 17
WALL = 0x40000000

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
libc.ptrace.restype = ctypes.c_long

tid = int(sys.argv[1])
for request in (PTRACE_SEIZE, PTRACE_INTERRUPT):
    if libc.ptrace(request, tid, None, None) != 0:
        errno = ctypes.get_errno()
        print("freeze-thread: ptrace failed: " + os.strerror(errno), file=sys.stderr)
        # 77: not allowed to trace here (not root, Yama's ptrace_scope): the caller may skip.
        sys.exit(77 if errno == 1 else 1)
os.waitpid(tid, WALL)
print("stopped", flush=True)
sys.stdin.read()
libc.ptrace(PTRACE_DETACH, tid, None, None)
