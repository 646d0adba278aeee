"""The same 50 trivial statements as bench/overhead.ts's batch, run by the official Python
Spark Connect client in one session: each registered as a view and counted.
Prints the seconds spent in the statement loop (after connecting) on stdout."""
import sys
import time

from pyspark.sql import SparkSession

remote, count = sys.argv[1], int(sys.argv[2])
spark = SparkSession.builder.remote(remote).getOrCreate()
started = time.perf_counter()
for i in range(1, count + 1):
    df = spark.sql(f"SELECT {i} AS n")
    df.createOrReplaceTempView(f"r{i:02d}")
    assert df.count() == 1
print(f"{time.perf_counter() - started:.3f}")
spark.stop()
