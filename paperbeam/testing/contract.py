"""The plugin contract: pytest test classes a plugin package runs against its
own plugin, through its entry point, to check it behaves as paperbeam needs.

In the plugin's test suite (pytest)::

    from paperbeam.testing.contract import SinkContract

    class TestMySink(SinkContract):
        name = "my-sink"                      # the entry-point name

        def make_uri(self, tmp_path):         # where the sink writes in this test
            return f"my-sink:{tmp_path}"

        def read_back(self, sink):            # ids of the records written, duplicates kept
            return [...]

What is checked, for every kind: the plugin is found by its entry point under
its name and declares that name; it (and every transform it hands Beam)
survives pickling, since Beam ships it to workers; configuration is checked
when it is built (an unknown option is a ``ConfigError``), not on the workers.
Then per kind: a sink writes every record of a real Beam pipeline, exactly
once even when run twice (``rerun_duplicates = True`` to opt out); a source
finds every document and each can be re-opened by its URI on another worker;
an OCR engine reads a drawn page; an extractor returns fields of the schema.
"""

from __future__ import annotations

import hashlib
import pickle
from typing import List

import pytest

from paperbeam import plugins
from paperbeam.errors import ConfigError
from paperbeam.records import DeadLetter, Field, Page, Record, SourceDocument, Word


def sample_records(n: int = 3) -> List[Record]:
    """Small records covering the shapes a sink must carry: typed fields, a
    missing field, metadata (an email's headers), non-ASCII text, a quote."""
    out = []
    for i in range(n):
        fields = {
            "vendor_name": Field(value=f'ACME "Sûpplies" {i}', normalized=f'ACME "Sûpplies" {i}', confidence=0.91, page=1,
                                 bbox=(10.0, 20.0, 110.0, 32.0), extractor="rules"),
            "document_date": Field(value="19/10/2018", normalized="2018-10-19", confidence=0.95, page=1, extractor="rules"),
            "total_amount": Field(value=f"1,234.5{i}", normalized=f"1234.5{i}", confidence=0.88, page=1, extractor="rules"),
            "currency": Field(value="EUR", normalized="EUR", confidence=0.7, page=1, extractor="rules"),
        }
        page = Page(doc_id=f"{i:064x}", page_number=1, width=595.0, height=842.0, unit="pt", source="text_layer",
                    words=[Word("ACME", (10.0, 20.0, 50.0, 32.0))])
        out.append(Record(
            id=hashlib.sha256(f"contract-{i}".encode()).hexdigest(), source_uri=f"/in/doc-{i}.pdf",
            media_type="application/pdf", page_count=1, pages=[page], fields=fields,
            versions={"paperbeam": "test"}, metadata={"sender": "a@example.com", "subject": f"Invoice {i}"} if i % 2 == 0 else {},
        ))
    return out


def sample_dead_letters() -> List[DeadLetter]:
    return [
        DeadLetter(source_uri="/in/broken.pdf", stage="split", error="CorruptDocument", message="The file is damaged."),
        DeadLetter(source_uri="/in/big.tif", stage="read", error="LimitExceeded", message="Too big.", doc_id="ab" * 32, page=3),
    ]


def run_config(tmp_path):
    """A RunConfig for building a plugin in a test (default schema, output in tmp_path)."""
    from paperbeam.pipelines.options import RunConfig

    return RunConfig(input=str(tmp_path), output=str(tmp_path / "out"))


def beam_pickles(obj):
    """Round-trip through Beam's own pickler, as when a pipeline ships to workers."""
    from apache_beam.internal import pickler

    return pickler.loads(pickler.dumps(obj))


def run_pipeline(build):
    """Run ``build(pipeline)`` on the in-process DirectRunner."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    with beam.Pipeline(runner="DirectRunner", options=PipelineOptions(["--direct_num_workers=1"])) as p:
        build(p)


class _Registered:
    group = ""
    name = ""

    def test_found_by_entry_point_under_its_name(self):
        assert self.name in plugins.names(self.group), f"'{self.name}' is not registered in {plugins.GROUPS[self.group]}"
        cls = plugins.load(self.group, self.name)
        assert getattr(cls, "name", None), f"{cls} has no 'name' attribute"

    def test_listed_with_package_and_version(self):
        rows = {r["name"]: r for r in plugins.describe()[self.group]}
        assert rows[self.name]["package"] != "?" and rows[self.name]["version"] != "?"


class SinkContract(_Registered):
    """Subclass as ``TestXxx``; set ``name``, define ``make_uri`` and ``read_back``."""

    group = "sinks"
    rerun_duplicates = False  # True if writing the same records twice is expected to duplicate them

    def make_uri(self, tmp_path) -> str:
        raise NotImplementedError

    def read_back(self, sink) -> List[str]:
        """The ids of the records the sink holds, duplicates kept."""
        raise NotImplementedError

    def read_back_dead_letters(self, sink) -> List[str]:
        """The source URIs of the dead letters the sink holds (only if it holds dead letters)."""
        pytest.skip("read_back_dead_letters not defined")

    def build(self, tmp_path, **options):
        from paperbeam.connectors.config import ConnectorSpec

        return plugins.build("sinks", ConnectorSpec(self.make_uri(tmp_path), options), run_config(tmp_path))

    def test_unknown_option_is_a_config_error(self, tmp_path):
        with pytest.raises(ConfigError):
            self.build(tmp_path, no_such_option_for_the_contract="1")

    def test_sink_and_its_transforms_pickle(self, tmp_path):
        sink = self.build(tmp_path)
        beam_pickles(sink)
        beam_pickles(sink.records())
        if sink.dead_letters() is not None:
            beam_pickles(sink.dead_letters())

    def test_writes_every_record_once_and_a_rerun_does_not_duplicate(self, tmp_path):
        sink = self.build(tmp_path)
        records = sample_records()
        for _ in range(2):
            sink.precheck()
            run_pipeline(lambda p: p | "Records" >> __import__("apache_beam").Create(records) | "Sink" >> sink.records())
        held = sorted(self.read_back(sink))
        expected = sorted(r.id for r in records)
        assert held == (sorted(expected * 2) if self.rerun_duplicates else expected)

    def test_dead_letters(self, tmp_path):
        sink = self.build(tmp_path)
        transform = sink.dead_letters()
        if transform is None:
            pytest.skip("this sink does not hold dead letters")
        getattr(sink, "precheck_dead_letters", sink.precheck)()
        letters = sample_dead_letters()
        run_pipeline(lambda p: p | "Letters" >> __import__("apache_beam").Create(letters) | "Sink" >> transform)
        assert sorted(self.read_back_dead_letters(sink)) == sorted(d.source_uri for d in letters)


class SourceContract(_Registered):
    """Subclass as ``TestXxx``; set ``name``; ``make_uri`` writes inputs under tmp_path
    and returns ``(uri, expected number of documents)``."""

    group = "sources"

    def make_uri(self, tmp_path):
        raise NotImplementedError

    def test_unknown_option_is_a_config_error(self, tmp_path):
        from paperbeam.connectors.config import ConnectorSpec

        uri, _ = self.make_uri(tmp_path)
        with pytest.raises(ConfigError):
            plugins.build("sources", ConnectorSpec(uri, {"no_such_option_for_the_contract": "1"}), run_config(tmp_path))

    def test_finds_every_document_and_each_reopens_by_uri(self, tmp_path):
        import apache_beam as beam

        from paperbeam.connectors.config import ConnectorSpec
        from paperbeam.connectors.openers import open_uri

        uri, expected = self.make_uri(tmp_path)
        source = plugins.build("sources", ConnectorSpec(uri), run_config(tmp_path))
        source.precheck()
        source = beam_pickles(source)
        found: List[SourceDocument] = []
        holder = tmp_path / "found.pickle"

        def keep(p):
            out = p | "Read" >> source.transform()
            docs = out["documents"] if not hasattr(out, "documents") else out.documents
            docs | beam.combiners.ToList() | beam.Map(lambda items: holder.write_bytes(pickle.dumps(items)))

        run_pipeline(keep)
        found = pickle.loads(holder.read_bytes())
        assert len(found) == expected
        for doc in found:
            assert doc.id == hashlib.sha256(doc.data).hexdigest()
            assert open_uri(doc.uri) == doc.data, f"{doc.uri} does not re-open to the same bytes"


class OcrEngineContract(_Registered):
    """Subclass as ``TestXxx``; set ``name`` (and ``options`` for the constructor)."""

    group = "ocr_engines"
    options: dict = {}

    def engine(self):
        engine = plugins.load(self.group, self.name)(**self.options)
        engine.check()
        return engine

    def test_reads_a_drawn_page(self):
        from PIL import Image, ImageDraw, ImageFont

        image = Image.new("L", (900, 200), 255)
        ImageDraw.Draw(image).text((40, 60), "INVOICE 1042 TOTAL 99.50", fill=0, font=ImageFont.load_default(size=48))
        result = self.engine().recognize(image, dpi=300)
        assert result.engine and result.width > 0 and result.height > 0
        assert result.words, "no words read from a clear line of text"
        for w in result.words:
            assert 0 <= w.confidence <= 1
            x0, y0, x1, y1 = w.bbox
            assert 0 <= x0 <= x1 <= result.width + 1 and 0 <= y0 <= y1 <= result.height + 1

    def test_engine_class_pickles(self):
        beam_pickles(plugins.load(self.group, self.name))


class ExtractorContract(_Registered):
    """Subclass as ``TestXxx``; set ``name``."""

    group = "extractors"

    def test_returns_fields_of_the_schema(self):
        from paperbeam.records import Document
        from paperbeam.schema import INVOICE

        extractor = plugins.load(self.group, self.name)(INVOICE)
        extractor.setup()
        record = sample_records(1)[0]
        fields = extractor.extract(Document(id=record.id, uri=record.source_uri, media_type=record.media_type, pages=record.pages))
        assert set(fields) <= set(INVOICE.names)
        assert all(isinstance(f, Field) or f is None for f in fields.values())
