"""TAP output for the Python test scripts run by ctest: one `ok`/`not ok`
line per check, a summary, and the exit status.

    from tap import check, finish
    check("name", condition, detail)
    sys.exit(finish())
"""

results = []


def check(name, cond, detail=""):
    """Record and print one check; returns cond so callers can branch on it."""
    results.append(bool(cond))
    line = ("ok" if cond else "not ok") + " %d - %s" % (len(results), name)
    if not cond and detail:
        line += "  # " + str(detail)
    print(line, flush=True)
    return cond


def finish():
    """Print the summary; the exit status: 1 if any check failed (or none ran)."""
    failed = results.count(False)
    print("# %d checks, %d failed" % (len(results), failed), flush=True)
    return 1 if failed or not results else 0
