"""Vid2Seq-style seq2seq heads: a T5 encoder-decoder with time tokens over visual features and speech.

- `sequences`: the text side (time tokens in the tokenizer, transcript and target strings, truncation).
- `parsing`: generated text -> events, counting what had to be dropped.
- `visual`: frame subsampling and the masked visual transformer.
- `streams`: the common-sense stream switch (`model.commonsense`: enabled, fusion concat | stream).
- `vid2seq`: the network (T5 + visual encoder, encoder outputs joined for cross-attention).
- `losses`: label-smoothed cross-entropy and T5 span corruption for the denoising objective.
- `module`: the LightningModule (training, validation with the evaluate metrics, checkpoints that
  carry their own options and tokenizer).
"""
