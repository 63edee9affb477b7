#!/bin/bash
# Two chains, one thread each (see README.md). Usage: bash reports/tuning/run_search.sh
cd /work/main && . .venv/bin/activate && export FLATBENCH_DATA_DIR=/work/shared/data
T=reports/tuning
( python -m flatbench.analysis.tuning --model lstm --dataset sst2 --trials 10 --seed 0 --out $T/lstm_sst2.json > $T/lstm_sst2.log 2>&1
  python -m flatbench.analysis.tuning --model lstm --dataset trec --trials 15 --seed 0 --out $T/lstm_trec.json > $T/lstm_trec.log 2>&1 ) &
( python -m flatbench.analysis.tuning --model cnn --dataset sst2 --trials 12 --seed 0 --out $T/cnn_sst2.json > $T/cnn_sst2.log 2>&1
  python -m flatbench.analysis.tuning --model cnn --dataset trec --trials 16 --seed 0 --out $T/cnn_trec.json > $T/cnn_trec.log 2>&1 ) &
wait
