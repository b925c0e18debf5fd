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
