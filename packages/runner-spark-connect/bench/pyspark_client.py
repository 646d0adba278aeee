"""The official client's side of the benchmark, same cases as client.ts: pyspark-client 4.x or
pyspark[connect] 3.5, whichever matches the server (bench/run.sh picks it).

Usage: python bench/pyspark_client.py <arrow|rows|stream|select1> <sc://host:port> [timed runs]
"""
import json
import statistics
import sys
import time

from pyspark.sql import SparkSession

QUERY = """SELECT id AS l, id * 1.5D AS d, concat('row-', id) AS s,
  date_add(DATE'2020-01-01', CAST(id % 3650 AS INT)) AS dt, CAST(id / 100 AS DECIMAL(18,2)) AS dec
  FROM range(1000000)"""


def main() -> None:
    mode, remote = sys.argv[1], sys.argv[2]
    timed_runs = int(sys.argv[3]) if len(sys.argv) > 3 else None
    spark = SparkSession.builder.remote(remote).getOrCreate()
    # The same plan as client.ts.
    warmup, runs = (20, 200) if mode == "select1" else (1, 5)
    runs = timed_runs or runs
    expected = 1 if mode == "select1" else 1_000_000

    def once() -> int:
        if mode == "select1":
            return len(spark.sql("SELECT 1 AS one").collect())
        df = spark.sql(QUERY)
        if mode == "arrow":
            if hasattr(df, "toArrow"):
                return df.toArrow().num_rows
            # 3.5 has no toArrow; this is what 4.x's toArrow does underneath.
            return spark.client.to_table(df._plan.to_proto(spark.client))[0].num_rows
        if mode == "rows":
            return len(df.collect())
        return sum(1 for _ in df.toLocalIterator())

    for _ in range(warmup):
        once()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        rows = once()
        times.append((time.perf_counter() - start) * 1000)
        if rows != expected:
            raise SystemExit(f"{mode}: {rows} rows, expected {expected}")
    print(json.dumps({"client": "pyspark-client", "mode": mode, "medianMs": round(statistics.median(times), 2), "runs": runs}))
    spark.stop()


if __name__ == "__main__":
    main()
