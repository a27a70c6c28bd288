#!/usr/bin/env bash
# Prints the path of a Python 3.13 (the Lambda runtime's version), or nothing.
for candidate in "${PYTHON313:-}" python3.13 $(ls -d "$(pyenv root 2>/dev/null || echo ~/.pyenv)"/versions/3.13*/bin/python3.13 2>/dev/null | sort -rV); do
  [ -n "$candidate" ] || continue
  if "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; then
    "$candidate" -c 'import sys; print(sys.executable)'
    exit 0
  fi
done
