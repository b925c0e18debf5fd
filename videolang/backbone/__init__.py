"""The shared Vid2Seq backbone that every task runs on, below the tasks, the data module and the model.

- `sequences`: the text side (time tokens in the tokenizer, transcript and target strings, truncation).
- `parsing`: generated text -> events, counting what had to be dropped.
- `sources`: what the backbone reads for one video (`VideoFeatures`: frames, transcript, common-sense rows),
  from the feature store or from memory.
- `streams`: the common-sense stream: its switch (`model.commonsense`) and its rows aligned to the frames.
- `visual`: frame subsampling and the masked visual transformer.
- `vid2seq`: the network (T5 + visual encoder, encoder outputs joined for cross-attention).
- `losses`: label-smoothed cross-entropy and T5 span corruption for the denoising objective.

The task modules (`videolang.tasks`), the data module (`videolang.datamodule`) and the
LightningModule (`videolang.model`) all build on these. Modules are imported explicitly; this
package imports nothing heavy.
"""
