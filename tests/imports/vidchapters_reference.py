"""The oracle: VidChapters' `preproc/chapters_to_dvc.py` and `preproc/chapters_to_vmr.py` (antoyang/VidChapters),
transcribed loop for loop, driven by pycocoevalcap's PTBTokenizer as theirs is. The only liberties: the
chapters data and split lists come in as arguments instead of files under DATA_DIR, and the outputs come
back as values instead of being written (`json.dump` of the same objects)."""
from __future__ import annotations

from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer


def remove_nonascii(text):
    return ''.join([i if ord(i) < 128 else ' ' for i in text])


def filter(sentence):  # noqa: A001 - their name
    mark = [',', ':', '!', '_', ';', '-', '.', '?', '/', '"', '\\n', '\\']
    for m in mark:
        if m in sentence:
            sentence = sentence.replace(m, " ")
        sentence = sentence.replace("  ", " ")
        sentence = sentence.replace("  ", " ")
        sentence = sentence.replace("  ", " ")
    sentence = sentence.lstrip()
    sentence = sentence.rstrip()
    sentence = sentence.lower()
    return sentence


def chapters_to_dvc(data, train_videos, val_videos, test_videos):
    """{"train": chapters_dvc_train, "val": ..., "test": ...} as their script writes them."""
    tokenizer = PTBTokenizer()
    vid2tok = {}
    for vid, anns in data.items():
        if not "duration" in anns:  # noqa: E713 - their spelling
            continue
        timestamps = [[float(x['time']),
                       float(anns['chapters'][i + 1]['time']) if i < len(anns['chapters']) - 1 else float(anns['duration'])]
                      for i, x in enumerate(anns['chapters'])]
        timestamps = [[x[0], x[1]] for x in timestamps if x[0] <= x[1] <= anns['duration']]
        if not timestamps:
            continue
        assert all(x[0] <= x[1] <= anns['duration'] for x in timestamps), (vid, anns)
        dico = {i: [{'caption': remove_nonascii(x['label']).strip()}] for i, x in enumerate(anns['chapters'])}
        vid2tok.update({vid + '_' + str(k): v for k, v in dico.items()})
    vid2tok = tokenizer.tokenize(vid2tok)
    vid2tok = {k: v[0].strip() for k, v in vid2tok.items()}
    out = {}
    for vid, anns in data.items():
        if not "duration" in anns:  # noqa: E713
            continue
        timestamps = [[float(x['time']), float(anns['chapters'][i + 1]['time']) if i < len(anns['chapters']) - 1 else float(anns['duration'])] for i, x in enumerate(anns['chapters'])]
        timestamps = [[x[0], x[1]] for x in timestamps if x[0] <= x[1] <= anns['duration']]
        if not timestamps:
            continue
        assert all(x[0] <= x[1] <= anns['duration'] for x in timestamps), (vid, anns)
        if (not all([filter(x['label']) for x in anns['chapters']])):
            continue
        dico = [vid2tok[vid + '_' + str(k)] for k in range(len(anns['chapters']))]
        if not all(dico):
            continue
        out[vid] = {'duration': float(anns['duration']),
                    'timestamps': timestamps,
                    'sentences': [x['label'] for x in anns['chapters']],
                    'path': vid + '.mp4.npy'}
    return {"train": {x: out[x] for x in out if x in train_videos},
            "val": {x: out[x] for x in out if x in val_videos},
            "test": {x: out[x] for x in out if x in test_videos}}


def chapters_to_vmr(data, train_videos, val_videos, test_videos):
    """{"train": rows, "val": rows, "test": rows} of chapters_vmr_<split>.json."""
    qid = 0
    out = []
    cnt = {}
    for vid, anns in data.items():
        if vid not in val_videos and vid not in train_videos and vid not in test_videos:
            continue
        cur = []
        for i, x in enumerate(anns['chapters']):
            window = [float(x['time']), float(anns['chapters'][i+1]['time']) if i < len(anns['chapters']) - 1 else float(anns['duration'])]
            if window[1] - window[0] >= 0.9 * anns['duration']:
                continue
            if window[0] <= window[1] <= anns['duration']:
                cur.append({'label': x['label'], 'window': window})
        if cur:
            if vid in train_videos:
                split = 'train'
                out.append({'qid': qid, 'query': [x['label'] for x in cur], 'vid': vid, 'duration': int(anns['duration']),
                            'split': split, 'relevant_windows': [[x['window']] for x in cur]})
                qid += 1
            elif vid in val_videos:
                split = 'val'
                for x in cur:
                    out.append({'qid': qid, 'query': x['label'], 'vid': str(cnt.get(vid, 0)) + vid,
                                'duration': int(anns['duration']), 'split': split, 'relevant_windows': [x['window']]})
                    cnt[vid] = cnt.get(vid, 0) + 1
                    qid += 1
            elif vid in test_videos:
                split = 'test'
                for x in cur:
                    out.append({'qid': qid, 'query': x['label'], 'vid': str(cnt.get(vid, 0)) + vid,
                                'duration': int(anns['duration']), 'split': split, 'relevant_windows': [x['window']]})
                    cnt[vid] = cnt.get(vid, 0) + 1
                    qid += 1
    return {s: [r for r in out if r['split'] == s] for s in ("train", "val", "test")}


# ---------------------------------------------------------------------------------------------------------------
# model/vit.py (VisionTransformer and its parts) and model/vid2seq.py's Vid2Seq.forward, transcribed; the T5 is
# Hugging Face's, as their model/modeling_t5.py is a copy of it with dropout / label-smoothing options.
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


class Mlp(nn.Module):
    def __init__(self, in_features, hidden_features=None, out_features=None, act_layer=nn.GELU, drop=0.):
        super().__init__()
        out_features = out_features or in_features
        hidden_features = hidden_features or in_features
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = act_layer()
        self.fc2 = nn.Linear(hidden_features, out_features)
        self.drop = nn.Dropout(drop)

    def forward(self, x):
        x = self.fc1(x)
        x = self.act(x)
        x = self.drop(x)
        x = self.fc2(x)
        x = self.drop(x)
        return x


class Attention(nn.Module):
    def __init__(self, dim, num_heads=12, qkv_bias=True, qk_scale=None, attn_drop=0., proj_drop=0.):
        super().__init__()
        self.num_heads = num_heads
        head_dim = dim // num_heads
        self.scale = qk_scale or head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.attn_drop = nn.Dropout(attn_drop)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = attn.softmax(dim=-1)
        attn = self.attn_drop(attn)
        x = (attn @ v).transpose(1, 2).reshape(B, N, C)
        x = self.proj(x)
        x = self.proj_drop(x)
        return x


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_dim, qkv_bias=True, qk_scale=None, drop=0., attn_drop=0.,
                 act_layer=nn.GELU, norm_layer=nn.LayerNorm):
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = Attention(dim, num_heads=num_heads, qkv_bias=qkv_bias, qk_scale=qk_scale, attn_drop=attn_drop,
                              proj_drop=drop)
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(in_features=dim, hidden_features=int(mlp_dim), act_layer=act_layer, drop=drop)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        x = x + self.mlp(self.norm2(x))
        return x


class VisionTransformer(nn.Module):
    def __init__(self, num_features=100, embed_dim=768, depth=12, num_heads=12, mlp_dim=2048, qkv_bias=True,
                 qk_scale=None, drop_rate=0., attn_drop_rate=0., norm_layer=nn.LayerNorm):
        super().__init__()
        self.depth = depth
        self.num_features = num_features
        self.pos_embed = nn.Parameter(torch.zeros(1, num_features, embed_dim))
        self.pos_drop = nn.Dropout(p=drop_rate)
        self.blocks = nn.ModuleList([
            Block(dim=embed_dim, num_heads=num_heads, mlp_dim=mlp_dim, qkv_bias=qkv_bias, qk_scale=qk_scale,
                  drop=drop_rate, attn_drop=attn_drop_rate, norm_layer=norm_layer)
            for _ in range(self.depth)])
        self.norm = norm_layer(embed_dim)
        nn.init.trunc_normal_(self.pos_embed, std=.02)

    def forward(self, x):
        if x.size(1) != self.pos_embed.size(1):
            time_embed = self.pos_embed.transpose(1, 2)
            new_time_embed = F.interpolate(time_embed, size=(x.size(1)), mode='nearest')
            new_time_embed = new_time_embed.transpose(1, 2)
            x = x + new_time_embed
        else:
            x = x + self.pos_embed
        x = self.pos_drop(x)
        for blk in self.blocks:
            x = blk(x)
        x = self.norm(x)
        return x


class Vid2Seq(nn.Module):
    """Their Vid2Seq with the T5 passed in (the tokenizer's pad id is 0, as T5's)."""

    def __init__(self, t5_model, num_features=100, embed_dim=768, depth=12, heads=12, mlp_dim=2048):
        super().__init__()
        self.t5_model = t5_model
        self.visual_encoder = VisionTransformer(num_features=num_features, embed_dim=embed_dim, depth=depth,
                                                num_heads=heads, mlp_dim=mlp_dim, qkv_bias=True, qk_scale=None,
                                                drop_rate=0., attn_drop_rate=0., norm_layer=nn.LayerNorm)
        self.proj_v2t = None
        if self.t5_model.model_dim != 768:
            self.proj_v2t = nn.Linear(768, self.t5_model.model_dim)

    def forward(self, video, input_tokenized, output_tokenized):
        """Their forward up to the decoder's logits (they return the loss of the same call)."""
        from transformers.modeling_outputs import BaseModelOutput  # noqa: F401 - their import

        video = self.visual_encoder(video)
        if self.proj_v2t is not None:
            video = self.proj_v2t(video)
        atts_vis = torch.ones(video.size()[:-1], dtype=torch.long).to(video.device)
        text = self.t5_model.encoder.embed_tokens(input_tokenized['input_ids'])
        encoded = self.t5_model.encoder(attention_mask=input_tokenized['attention_mask'], inputs_embeds=text)
        encoded.last_hidden_state = torch.cat([video, encoded.last_hidden_state], dim=1)
        encoder_atts = torch.cat([atts_vis, input_tokenized['attention_mask']], dim=1)
        targets = output_tokenized['input_ids'].masked_fill(output_tokenized['input_ids'] == 0, -100)
        outputs = self.t5_model(encoder_outputs=encoded, attention_mask=encoder_atts,
                                decoder_attention_mask=output_tokenized['attention_mask'], return_dict=True,
                                labels=targets)
        return outputs.logits
