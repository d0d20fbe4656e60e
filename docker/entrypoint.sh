#!/bin/sh
# Ingest the bundled corpus into the store, then hand the process over to the UI server.
# Extra arguments are passed to `clausewise serve`. Set CLAUSEWISE_SKIP_INGEST=1 to skip ingest.
set -eu

corpus="${CLAUSEWISE_CORPUS_DIR:-/app/corpus}"

if [ "${CLAUSEWISE_SKIP_INGEST:-0}" != "1" ]; then
    echo "clausewise: ingesting ${corpus} ..."
    clausewise ingest "${corpus}"
fi

exec clausewise serve "$@"
