"""Run a script as __main__ and record when it ends, optionally with one cProfile per thread.

    python bench/child_probe.py MARKS.json [PROFILE_DIR] -- SCRIPT [ARGS...]

Writes to MARKS.json the monotonic clock (CLOCK_MONOTONIC, shared by every process on Linux) when
the probe started and when the script's main returned, and how many objects the garbage collector
tracked then (what the interpreter's exit has to walk). With PROFILE_DIR, every thread runs under
its own cProfile and leaves THREADNAME.prof there. Standard library only, imported lazily, so that
the probe adds next to nothing to the start-up it helps to measure.
"""

import sys
import time

STARTED = time.monotonic()


def _profile_threads(profiles: list) -> None:
    """Give every thread started from now on its own profiler (cProfile profiles one thread)."""
    import cProfile
    import threading

    original_run = threading.Thread.run

    def run(self) -> None:
        profile = cProfile.Profile()
        profiles.append((self.name, profile))
        profile.enable()
        try:
            original_run(self)
        finally:
            profile.disable()

    threading.Thread.run = run


def _run(script: str, args: list[str], profile_dir: str | None, profiles: list) -> None:
    """The script as __main__; with a profile directory, every profiler made is added to `profiles`."""
    import os
    import runpy

    sys.argv = [script, *args]
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    main_profile = None
    if profile_dir:
        import cProfile

        _profile_threads(profiles)
        main_profile = cProfile.Profile()
        profiles.append(("MainThread", main_profile))
        main_profile.enable()
    try:
        runpy.run_path(script, run_name="__main__")
    finally:
        if main_profile is not None:
            main_profile.disable()


def main() -> None:
    """Parse the probe's arguments, run the script, write the marks and the profiles."""
    import gc
    import json

    split = sys.argv.index("--")
    marks_path, profile_dir = sys.argv[1], (sys.argv[2] if split > 2 else None)
    code: object = 0
    profiles: list = []
    try:
        _run(sys.argv[split + 1], sys.argv[split + 2 :], profile_dir, profiles)
    except SystemExit as exc:  # the script's exit code is the probe's, after the marks are written
        code = exc.code
    ended = time.monotonic()
    marks = {"started": STARTED, "main_returned": ended, "gc_tracked_objects": len(gc.get_objects())}
    with open(marks_path, "w", encoding="utf-8") as out:
        json.dump(marks, out)
    for number, (name, profile) in enumerate(profiles):
        profile.dump_stats(f"{profile_dir}/{number:02d}-{name}.prof")
    sys.exit(code)


if __name__ == "__main__":
    main()
