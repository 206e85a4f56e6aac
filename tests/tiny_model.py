"""A tiny BERT built locally (no download) for fast tests of the model code."""
from __future__ import annotations

from pathlib import Path


def make_tiny_model(path: Path) -> Path:
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    from classifier.labels import ID2LABEL, LABEL2ID

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "own", "the", "roadmap", "launch", "messaging", "hubspot",
             "campaigns", "benefits", "salary", "research", "customers", "and", "write", "prds", "we", "are", "hiring"]
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = BertTokenizerFast(vocab={w: i for i, w in enumerate(words)}, do_lower_case=True)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(words), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64, id2label=ID2LABEL, label2id=LABEL2ID)
    model = BertForSequenceClassification(config)
    model.save_pretrained(str(path), safe_serialization=True)
    tokenizer.save_pretrained(str(path))
    return path
