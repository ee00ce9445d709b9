"""paperbeam: office documents in, structured and validated records out, on Apache Beam."""

__version__ = "0.1.0"
