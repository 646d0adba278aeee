"""The reference side of Differential.test.ts: runs each query with pyspark-client and prints its
rows as the values our client documents for each Spark type (README, "Types"), so the test can
compare them with ours value by value. JSON alone would blur some of them, so those are tagged:
{"$num": IEEE-754 bits in hex}, {"$bigint": digits}, {"$bytes": hex}, {"$map": [[k, v], ...]},
{"$row": [[name, value], ...]}.

Usage: TZ=UTC python differential.py < {"remote": "sc://…", "runs": [{"conf": {…}, "queries": [
  "SELECT …", …]}, …]}
Prints one JSON array per run, of one result per query: {"columns": [...], "rows": [[...], ...]} or
{"error": "..."}.
"""
import datetime
import decimal
import json
import struct
import sys

from pyspark.sql import SparkSession
from pyspark.sql import types as T


def num(x):
    return {"$num": "nan" if x != x else struct.pack(">d", float(x)).hex()}


def day(d):
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"


def clock(t):
    return f"{t.hour:02d}:{t.minute:02d}:{t.second:02d}.{t.microsecond:06d}"


def variant(x):
    """A variant's value as VariantVal.toPython() gives it, in our form. Integers map by size, as
    parse_json stores them (the smallest of int8…int64: we read int64 as bigint)."""
    if x is None or isinstance(x, (bool, str)):
        return x
    if isinstance(x, int):
        return num(x) if -(2**31) <= x < 2**31 else {"$bigint": str(x)}
    if isinstance(x, float):
        return num(x)
    if isinstance(x, decimal.Decimal):
        return format(x, "f")
    if isinstance(x, (bytes, bytearray)):
        return {"$bytes": bytes(x).hex()}
    if isinstance(x, datetime.datetime):
        utc = x.astimezone(datetime.timezone.utc) if x.tzinfo is not None else x
        return f"{day(utc)}T{clock(utc)}" + ("Z" if x.tzinfo is not None else "")
    if isinstance(x, datetime.date):
        return day(x)
    if isinstance(x, list):
        return [variant(e) for e in x]
    if isinstance(x, dict):
        return {"$row": [[k, variant(e)] for k, e in x.items()]}
    raise TypeError(f"no reference form for a variant's {type(x).__name__}")


def value(t, v):
    """v, of Spark type t as pyspark returns it, in our client's documented form."""
    if v is None:
        return None
    if isinstance(t, T.BooleanType):
        return v
    if isinstance(t, (T.ByteType, T.ShortType, T.IntegerType, T.FloatType, T.DoubleType)):
        return num(v)
    if isinstance(t, T.LongType):
        return {"$bigint": str(v)}
    if isinstance(t, T.DecimalType):
        return format(v, "f")
    if isinstance(t, (T.StringType, T.CharType, T.VarcharType)):
        return v
    if isinstance(t, T.BinaryType):
        return {"$bytes": bytes(v).hex()}
    if isinstance(t, T.DateType):
        return day(v)
    # Naive datetimes in the process's zone, which the test sets to UTC like the session's.
    if isinstance(t, T.TimestampType):
        return f"{day(v)}T{clock(v)}Z"
    if isinstance(t, T.TimestampNTZType):
        return f"{day(v)}T{clock(v)}"
    if isinstance(t, T.TimeType):
        return clock(v)
    if isinstance(t, T.DayTimeIntervalType):
        return {"$bigint": str((v.days * 86400 + v.seconds) * 1_000_000 + v.microseconds)}
    if isinstance(t, T.ArrayType):
        return [value(t.elementType, x) for x in v]
    if isinstance(t, T.MapType):
        return {"$map": [[value(t.keyType, k), value(t.valueType, x)] for k, x in v.items()]}
    if isinstance(t, T.StructType):
        return {"$row": [[f.name, value(f.dataType, v[i])] for i, f in enumerate(t.fields)]}
    if isinstance(t, (T.GeometryType, T.GeographyType)):
        return {"$row": [["srid", num(v.getSrid())], ["wkb", {"$bytes": bytes(v.getBytes()).hex()}]]}
    if isinstance(t, T.VariantType):
        return variant(v.toPython())
    raise TypeError(f"no reference form for {t.simpleString()}")


def run(spark, query):
    try:
        df = spark.sql(query)
        fields = df.schema.fields
        rows = [[value(f.dataType, r[i]) for i, f in enumerate(fields)] for r in df.collect()]
        return {"columns": [f.name for f in fields], "rows": rows}
    except Exception as e:  # the test reports it next to the query
        return {"error": f"{type(e).__name__}: {e}"}


def main():
    job = json.load(sys.stdin)
    spark = SparkSession.builder.remote(job["remote"]).getOrCreate()
    results = []
    for each in job["runs"]:
        for k, v in each["conf"].items():
            spark.conf.set(k, v)
        results.append([run(spark, q) for q in each["queries"]])
    json.dump(results, sys.stdout)
    spark.stop()


if __name__ == "__main__":
    main()
