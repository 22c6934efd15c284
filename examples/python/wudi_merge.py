#!/usr/bin/env python3
"""Calling wudi from Python: `wudi merge --progress json` through subprocess, one JSON event per line.

    python3 wudi_merge.py BASE OUT MODEL... [-- MORE WUDI OPTIONS]

prints progress on stderr and the summary on stdout, and exits with wudi's exit code. As a module:

    from wudi_merge import merge, WudiError
    done = merge("base.safetensors", ["a.safetensors", "b.safetensors"], "merged.safetensors",
                 extra=["--solver", "exact"], on_event=print)

The wudi command is `wudi` on the PATH, or the command line in the WUDI environment variable (for example
WUDI="java -jar /opt/wudi/wudi.jar"). The events and their fields are documented in docs/integration.md.
"""
import json
import os
import shlex
import subprocess
import sys

SCHEMA = 1  # the version of the events this script understands


class WudiError(Exception):
    """wudi stopped with an error (exit 1), a usage mistake (exit 2) or a signal (130, 143)."""

    def __init__(self, exit_code, message):
        super().__init__(message)
        self.exit_code = exit_code
        self.message = message


def wudi_command():
    return shlex.split(os.environ.get("WUDI", "wudi"))


def merge(base, models, out, extra=(), on_event=None):
    """Runs one merge; returns its "done" event; raises WudiError naming what went wrong."""
    cmd = wudi_command() + ["merge", "--base", str(base), "--out", str(out), "--progress", "json"]
    for m in models:
        cmd += ["--model", str(m)]
    cmd += list(extra)
    done = None
    failure = None
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        for line in proc.stdout:
            event = json.loads(line)
            if event.get("schema") != SCHEMA:
                raise WudiError(1, "unknown event schema %r (this script reads %d)" % (event.get("schema"), SCHEMA))
            if on_event is not None:
                on_event(event)
            if event["event"] == "done":
                done = event
            elif event["event"] == "error":
                failure = (event["exit"], event["message"])
            elif event["event"] == "interrupted":
                failure = (130, event["message"])
        stderr = proc.stderr.read()
        code = proc.wait()
    if code != 0:
        if failure is None:  # no JSON error: the JVM itself failed to start, say
            failure = (code, stderr.strip().splitlines()[-1] if stderr.strip() else "wudi exited with %d" % code)
        raise WudiError(code, failure[1])
    return done


def show(event):
    """Progress for a person, on stderr."""
    kind = event["event"]
    if kind == "start":
        print("merging %d tensors (%d optimised by WUDI)" % (event["tensors"], event["optimise"]), file=sys.stderr)
    elif kind == "tensor_done" and event.get("loss_before") is not None:
        print("  %s: loss %.4g -> %.4g" % (event["name"], event["loss_before"], event["loss_after"]), file=sys.stderr)
    elif kind in ("warning", "info"):
        print("  %s: %s" % (kind, event["message"]), file=sys.stderr)


def main(argv):
    extra = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    base, out, models = argv[0], argv[1], argv[2:]
    try:
        done = merge(base, models, out, extra, on_event=show)
    except WudiError as e:
        print("wudi failed (exit %d): %s" % (e.exit_code, e.message), file=sys.stderr)
        return e.exit_code
    print("merged %d tensors with %s in %.2f s -> %s" % (done["tensors"], done["method"], done["seconds"], done["out"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
