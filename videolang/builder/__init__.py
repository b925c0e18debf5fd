"""The dataset builder (`stage=build_dataset`): scraped metadata or published annotations -> a dataset.

readers / scrape / converters  -> records (`records.VideoRecord`)
rulesets (reference, fastparse) -> chapters or a rejection reason
filters, language, splits       -> kept videos
build (parallel, process)       -> videos/chapters Parquet tables, tasks/*, report.json + report.md

See docs/builder.md for the behaviour and docs/formats.md for every output field.
"""
