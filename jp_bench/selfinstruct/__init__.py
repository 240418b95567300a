"""Japanese self-instruct pipeline: generate instruction data with a teacher model and filter it.

The filters are Japanese-aware counterparts of the ones Alpaca/self-instruct use. Their ROUGE-L
near-duplicate filter relies on ``rouge_score``'s default tokenizer, which keeps only ``[a-z0-9]``
and therefore scores two identical Japanese sentences 0.0, so it never drops anything. The
filtering modules:

* :mod:`jp_bench.selfinstruct.tokenize` -- character and morpheme (fugashi + unidic-lite) tokenizers;
* :mod:`jp_bench.selfinstruct.dedup` -- ROUGE-L exactly as ``rouge_score`` computes it, and a fast
  exact pool matcher (:class:`~jp_bench.selfinstruct.dedup.NearDuplicateIndex`);
* :mod:`jp_bench.selfinstruct.filters` -- length, blacklist, Japanese-script share and near-duplicate
  filters applied in a fixed order by :func:`~jp_bench.selfinstruct.filters.filter_items`.
"""
