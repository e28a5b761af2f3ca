"""A worker process: builds and times workloads with the fnnet found at ``--fnnet ROOT``.

Started by ``harness.WorkerRunner``; reads pickled ``(method, args)`` requests on stdin,
calls the method of its ``harness.Bench`` and writes pickled ``("ok", value)`` or
``("error", text)`` replies on stdout. Everything it prints goes to stderr.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import traceback
from pathlib import Path
from typing import Any, BinaryIO


def serve(bench: Any, hello: dict[str, str], recv: BinaryIO, send: BinaryIO) -> None:
    while True:
        try:
            method, args = pickle.load(recv)
        except EOFError:
            return
        if method == "close":
            return
        try:
            value = hello if method == "hello" else getattr(bench, method)(*args)
            reply: tuple[str, Any] = ("ok", value)
        except Exception as err:  # reported to the driver, which decides what to skip
            traceback.print_exc(file=sys.stderr)
            reply = ("error", f"{type(err).__name__}: {err}")
        pickle.dump(reply, send)
        send.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fnnet", required=True, type=Path, help="checkout holding fnnet/")
    parser.add_argument("--libs", default="fnnet", help="libraries to build, comma-separated")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--glibc-defaults", action="store_true")
    args = parser.parse_args()

    # the protocol keeps the real stdout; prints (Python's or a C library's) go to stderr
    send = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    recv = sys.stdin.buffer

    import threads

    threads.pin_before_import(args.threads)
    import allocator

    malloc = allocator.configure(args.glibc_defaults)
    root = args.fnnet.resolve()
    sys.path.insert(0, str(root))
    import fnnet

    where = Path(fnnet.__file__).resolve().parent
    if where.parent != root:
        raise SystemExit(f"worker: asked for fnnet in {root}, imported {where}")
    import harness
    import workloads

    libs = [lib for lib in args.libs.split(",") if lib]
    threads.limit_after_import(args.threads)

    def build(name: str, libs: frozenset[str]) -> Any:
        return workloads.WORKLOADS[name](libs)

    hello = {"fnnet": str(where), "malloc": malloc}
    serve(harness.Bench(build, libs), hello, recv, send)


if __name__ == "__main__":
    main()
