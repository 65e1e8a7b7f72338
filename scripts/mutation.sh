#!/usr/bin/env bash
# Mutation testing (mutmut 3) of the modules whose tests must kill at least 90 % of the
# non-equivalent mutants: the chain runner, ordering, trusted proxies, and the jwt plugin's
# token extraction and scopes.
#
#   bash scripts/mutation.sh                  # every module, one after the other
#   bash scripts/mutation.sh proxies scopes   # some of them
#
# Modules: chain ordering proxies scopes extract. Each runs in a scratch copy of the
# sources and of its own fast unit tests (MUTATION_DIR, default /tmp/siomw-mutation/<name>),
# so the working tree, its pyproject.toml and the normal test run are untouched. Prints,
# per module, killed / total and the surviving mutants (`mutmut show <name>` in the
# module's scratch directory shows one). Installs mutmut into .venv when it is missing.
# One module at a time, --max-children 2 (MUTATION_JOBS): the machine has 2 cores.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=$root/.venv/bin/python
work=${MUTATION_DIR:-/tmp/siomw-mutation}
jobs=${MUTATION_JOBS:-2}

if [[ ! -x $python ]]; then
    echo "mutation.sh: $python not found: run 'bash scripts/setup.sh' first" >&2
    exit 2
fi
if ! "$python" -c "import mutmut" 2>/dev/null; then
    echo "mutation.sh: installing mutmut into .venv" >&2
    "$python" -m pip install -q "mutmut>=3.3,<4"
fi

# module name -> "source file in the repo|package dir in the scratch copy|tests"
declare -A spec=(
    [chain]="siomw_core/chain.py|siomw_core|tests/test_chain.py"
    [ordering]="siomw_core/ordering.py|siomw_core|tests/test_ordering.py"
    [proxies]="siomw_core/proxies.py|siomw_core|tests/test_proxies.py"
    [scopes]="plugins/siomw-jwt/siomw_jwt/scopes.py|siomw_jwt|tests/plugins/jwt/test_scopes.py"
    [extract]="plugins/siomw-jwt/siomw_jwt/extract.py|siomw_jwt|tests/plugins/jwt/test_extract.py"
)
order=(chain ordering proxies scopes extract)
if [[ $# -gt 0 ]]; then order=("$@"); fi

run_one() {
    local name=$1
    [[ -n ${spec[$name]:-} ]] || { echo "mutation.sh: unknown module '$name' (${!spec[*]})" >&2; return 2; }
    local source package tests
    IFS='|' read -r source package tests <<<"${spec[$name]}"
    local dir=$work/$name
    rm -rf "$dir"
    mkdir -p "$dir"
    # the packages the tests import, laid out at the top level: mutmut puts its mutated
    # copy of the top level first on sys.path (ahead of the editable installs)
    cp -r "$root/siomw_core" "$dir/siomw_core"
    if [[ $package == siomw_jwt ]]; then
        cp -r "$root/plugins/siomw-jwt/siomw_jwt" "$dir/siomw_jwt"
    fi
    # the Python files of tests/ (helpers, conftests; not the JS client's node_modules):
    # only $tests runs
    (cd "$root" && find tests -name '*.py' -not -path '*/node_modules/*' \
        -exec cp --parents {} "$dir/" \;)
    local file=${source#plugins/siomw-jwt/}
    cat >"$dir/setup.cfg" <<EOF
[mutmut]
source_paths = $package
only_mutate = $file
pytest_add_cli_args_test_selection = $tests
EOF
    sed -n '/^\[tool.pytest.ini_options\]/,/^\[/p' "$root/pyproject.toml" | sed '$ { /^\[/d }' \
        >"$dir/pyproject.toml"
    echo "== $name: $source (tests: $tests)"
    (cd "$dir" && "$python" -m mutmut run --max-children "$jobs" >"$dir/run.log" 2>&1) || {
        echo "mutation.sh: mutmut failed for $name, see $dir/run.log" >&2
        tail -20 "$dir/run.log" >&2
        return 1
    }
    (cd "$dir" && "$python" -m mutmut export-cicd-stats >/dev/null 2>&1 || true)
    "$python" - "$dir" "$name" <<'EOF'
import json, pathlib, subprocess, sys
dir, name = pathlib.Path(sys.argv[1]), sys.argv[2]
stats = json.loads((dir / "mutants" / "mutmut-cicd-stats.json").read_text())
killed, total = stats["killed"], stats["total"]
print(f"{name}: {killed} / {total} killed ({100 * killed / max(total, 1):.0f} %); "
      f"survived {stats['survived']}, timeout {stats.get('timeout', 0)}, "
      f"no tests {stats.get('no_tests', 0)}, suspicious {stats.get('suspicious', 0)}")
out = subprocess.run([sys.executable, "-m", "mutmut", "results"], cwd=dir,
                     capture_output=True, text=True).stdout
for line in out.splitlines():
    if line.strip():
        print("   ", line.strip())
EOF
}

status=0
for name in "${order[@]}"; do
    run_one "$name" || status=1
done
exit $status
