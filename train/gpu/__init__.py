"""One call on a lent GPU: pack the data, run the job (`bash train/gpu/gpu_run.sh`), measure throughput."""
