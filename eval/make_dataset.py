"""How the first 71 items of eval/dev.jsonl (q01-q71) were made: hand-written questions, reference answers and key
strings below; for `list` questions the gold papers were found by searching every title
and abstract with the regex recorded in the item's "search" field (then read by hand),
so the gold list is complete for the collection. Re-run to regenerate the JSONL:

    .venv/bin/python eval/make_dataset.py
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from rag.corpus import load_corpus  # noqa: E402
from rag.settings import PROJECT_ROOT  # noqa: E402

F, W, L, C, U = "fact", "which", "list", "compare", "unanswerable"

# (type, question, gold id prefixes, reference answer, key strings)
ITEMS: list[tuple[str, str, list[str], str, list[str]]] = [
    (F, "What information transfer rates does the deep network for SSVEP spellers achieve?", ["a-deep-neural-network-for-ssvep"], "265.23 bits/min and 196.59 bits/min on the two datasets, with 0.4 s of stimulation.", ["265.23 bits/min"]),
    (F, "In a DenseNet with L layers, how many direct connections are there?", ["densely-connected-convolutional-networks"], "L(L+1)/2 direct connections.", ["L(L+1)/2"]),
    (F, "How much does the MEAL V2 distillation framework improve a ResNet-18?", ["meal-v2"], "From 69.76% to 73.19% top-1.", ["73.19%"]),
    (F, "What speed-up does DeepCache give on Stable Diffusion v1.5?", ["deepcache"], "2.3x with a 0.05 drop in CLIP score.", ["2.3times"]),
    (F, "Which CIFAR-10 test error do residual networks trained with stochastic depth reach?", ["deep-networks-with-stochastic-depth"], "4.91% with over 1200 layers.", ["4.91%"]),
    (F, "What ImageNet top-1 accuracy does EfficientNet-B7 obtain?", ["efficientnet-rethinking"], "84.3% top-1, 8.4x smaller and 6.1x faster than the best ConvNet.", ["84.3%"]),
    (F, "What perplexity does the recurrent cell found by reinforcement-learning architecture search reach on Penn Treebank?", ["neural-architecture-search-with-reinforcement"], "62.4 test perplexity.", ["62.4"]),
    (F, "What top-5 error does the ensemble of residual Inception networks and Inception-v4 get on ImageNet?", ["inception-v4"], "3.08 percent top-5 error.", ["3.08 percent"]),
    (F, "How long does U-Net need to segment a 512x512 image?", ["u-net-convolutional"], "Less than a second on a recent GPU.", ["less than a second"]),
    (F, "By how much does mixed precision training cut memory use?", ["mixed-precision-training"], "Nearly 2x.", ["2x"]),
    (F, "What top-1 accuracy does a vanilla ResNet-50 reach when trained with a billion unlabelled images?", ["billion-scale-semi-supervised"], "81.2% on ImageNet.", ["81.2%"]),
    (F, "How much faster than existing models is the ENet segmentation network?", ["enet-a-deep-neural-network"], "Up to 18x faster, 75x fewer FLOPs, 79x fewer parameters.", ["18times"]),
    (F, "By what percentage does CSPNet reduce computation on ImageNet?", ["cspnet"], "20% less computation with equal or better accuracy.", ["20%"]),
    (F, "What ImageNet top-1 accuracy does GhostNetV2 achieve with 167M FLOPs?", ["ghostnetv2"], "75.3%, above GhostNetV1's 74.5%.", ["75.3%"]),
    (F, "What ImageNet top-1 accuracy does Once-for-All reach under the mobile setting?", ["once-for-all"], "80.0% under 600M MACs.", ["80.0%"]),
    (F, "How much search time does Single-Path NAS need?", ["single-path-nas"], "8 epochs, 30 TPU-hours.", ["30 TPU-hours"]),
    (F, "What accuracy does HAWQV3 INT8 quantization give for ResNet50?", ["hawqv3"], "77.58%, 2.68% above prior integer-only work.", ["77.58%"]),
    (F, "How much faster does a 12 layer Transformer converge on enwiki8 with ReZero?", ["rezero"], "56% faster.", ["56%"]),
    (F, "How much memory does training a 1,000-layer residual network need with the sublinear memory technique?", ["training-deep-nets-with-sublinear"], "7G instead of 48G, at 30 percent extra running time.", ["7G"]),
    (F, "How accurate are networks on MNIST when each clean example is diluted with 100 randomly-labeled examples?", ["deep-learning-is-robust-to-massive-label-noise"], "Above 90 percent test accuracy.", ["above 90 percent"]),
    (F, "What share of the ImageNet validation set is mislabeled?", ["pervasive-label-errors"], "At least 6%.", ["6%"]),
    (F, "What ImageNet accuracy does CondConv reach on EfficientNet-B0, and with how many multiply-adds?", ["condconv"], "78.3% with 413M multiply-adds.", ["78.3%", "413M"]),
    (F, "How fast does the XNect multi-person 3D motion capture system run?", ["xnect"], "Over 30 fps on consumer hardware.", ["30 fps"]),
    (F, "How long does ZeroQ take to quantize a model?", ["zeroq"], "Less than 30s, 0.5% of one ResNet50 training epoch.", ["30s"]),
    (F, "What ImageNet top-1 accuracy does SimCLRv2 fine-tuning reach with only 1% of the labels?", ["big-self-supervised"], "73.9% with ResNet-50.", ["73.9%"]),
    (F, "What IOU does the DCNN with a fully connected CRF reach on PASCAL VOC-2012?", ["semantic-image-segmentation-with-deep"], "71.6% IOU on the test set.", ["71.6%"]),
    (F, "What top-1 accuracy does the 1.3M-parameter EdgeNeXt model reach on ImageNet-1K?", ["edgenext"], "71.2%, 2.2% above MobileViT.", ["71.2%"]),
    (F, "What ImageNet-1K accuracy does Meta-SpikeFormer reach?", ["spike-driven-transformer-v2"], "80.0% top-1 with 55M parameters.", ["80.0\\%"]),
    (F, "How much faster is BERT pretraining with Monarch matrices?", ["monarch"], "23% faster than Nvidia's MLPerf 1.1 implementation.", ["23%"]),
    (F, "How much does the efficient sub-pixel CNN improve PSNR on videos?", ["real-time-single-image-and-video"], "+0.39dB on videos, +0.15dB on images.", ["+0.39dB"]),
    (F, "How small are winning tickets relative to the original networks?", ["the-lottery-ticket-hypothesis"], "Less than 10-20% of the size.", ["10-20%"]),
    (F, "What mean IU do fully convolutional networks reach on PASCAL VOC 2012?", ["fully-convolutional-networks-for-semantic"], "62.2% in one version of the abstract, 67.2% in the other.", ["mean IU"]),
    (F, "With how much of ImageNet can models be trained without a performance drop using Dataset Quantization?", ["dataset-quantization"], "60% of ImageNet.", ["60%"]),
    (F, "How much does NetMamba speed up inference for traffic classification?", ["netmamba"], "Up to 60 times.", ["60 times"]),
    (F, "How much memory does a ResNet-50 SlowFast save or how much faster does it train with the multigrid method?", ["a-multigrid-method-for-efficiently"], "4.5x faster training with +0.8% accuracy on Kinetics-400.", ["4.5x"]),
    (W, "Which paper classifies text without any parameters by using a compressor?", ["less-is-more-parameter-free"], "'Less is More': gzip plus a k-nearest-neighbour classifier.", ["gzip"]),
    (W, "Which architecture connects each layer to every other layer in a feed-forward fashion?", ["densely-connected-convolutional-networks"], "DenseNet.", ["DenseNet"]),
    (W, "Which paper uses a recurrent network trained with reinforcement learning to generate model descriptions?", ["neural-architecture-search-with-reinforcement"], "Neural Architecture Search with Reinforcement Learning.", ["reinforcement learning"]),
    (W, "Which work adds spatial conditioning controls to large pretrained text-to-image diffusion models?", ["adding-conditional-control"], "ControlNet.", ["ControlNet"]),
    (W, "Which paper makes vanilla ResNet-50 exceed 80% top-1 on ImageNet without extra training data?", ["meal-v2"], "MEAL V2, by ensemble knowledge distillation.", ["80%"]),
    (C, "How does a shallow DPN compare with ResNeXt-101(64x4d) on ImageNet-1k?", ["dual-path-networks"], "26% smaller, 25% less compute and 8% less memory.", ["26% smaller"]),
    (C, "How does VAN-B2 compare with Swin-T on ADE20K segmentation?", ["visual-attention-network"], "50.1 vs 46.1 mIoU (+4%).", ["50.1"]),
    (C, "How does GhostNetV2 compare with GhostNetV1 at similar cost?", ["ghostnetv2"], "75.3% vs 74.5% top-1.", ["74.5%"]),
    (C, "How does HarDNet compare with DenseNet-264 in inference time?", ["hardnet"], "36% less inference time.", ["36%"]),
    (C, "How does ZeroQ compare with DFQ on MobileNetV2?", ["zeroq"], "1.71% higher accuracy.", ["1.71"]),
    (U, "What does DeepCache get on SDXL?", ["deepcache"], "Not reported: the abstract gives Stable Diffusion v1.5 and LDM-4-G results only.", []),
    (U, "What FID does DeepCache reach on MS-COCO?", ["deepcache"], "Not reported: FID is given for ImageNet only.", []),
    (U, "What top-1 accuracy does EfficientNet-B7 reach on ImageNet-21k?", ["efficientnet-rethinking"], "Not reported.", []),
    (U, "How many TPU hours does Once-for-All training take?", ["once-for-all"], "Not reported.", []),
    (U, "What BLEU score does ReZero get on WMT14?", ["rezero"], "Not reported: enwiki8 convergence only.", []),
    (U, "What accuracy does MEAL V2 reach on CIFAR-100?", ["meal-v2"], "Not reported: ImageNet only.", []),
    (U, "How fast is U-Net segmentation on a CPU?", ["u-net-convolutional"], "Not reported: less than a second on a GPU.", []),
    (U, "What top-1 accuracy does HAWQV3 reach on MobileNetV2?", ["hawqv3"], "Not reported.", []),
    (U, "What speed-up does Monarch give when training LLaMA?", ["monarch"], "Not reported: ViT, GPT-2 and BERT only.", []),
    (U, "What box AP does GhostNetV2 get on COCO detection?", ["ghostnetv2"], "Not reported.", []),
    (U, "What ITR does the deep SSVEP network reach on the MAMEM dataset?", ["a-deep-neural-network-for-ssvep"], "Not reported: benchmark and BETA datasets only.", []),
    (U, "What is the accuracy of the gzip text classifier on ImageNet?", ["less-is-more-parameter-free"], "Not reported: it is a text classifier.", []),
]

# (question, regex over title + abstract, reference answer, key strings)
LISTS: list[tuple[str, str, str, list[str]]] = [
    ("Which papers quantize networks without access to training data (data-free or zero-shot quantization)?", r"data-free|zero-shot quantization|zero shot quantization", "DFQ, ZeroQ, REx, NUPES.", ["data-free"]),
    ("Which papers discuss the lottery ticket hypothesis or winning tickets?", r"lottery ticket|winning ticket", "Seven papers on lottery/winning tickets.", ["lottery ticket"]),
    ("Which papers use hypernetworks that generate the weights of another network?", r"hypernetwork", "Eight hypernetwork papers.", ["hypernetwork"]),
    ("Which papers build on or evaluate Mamba models?", r"\bmamba\b", "NetMamba, MobileMamba, nnU-Net revisited.", ["Mamba"]),
    ("Which papers are about spiking neural networks?", r"spiking", "Five spiking-network papers.", ["spiking"]),
    ("Which papers study Kolmogorov-Arnold networks?", r"kolmogorov|\bKANs?\b", "XNet vs KAN; activation-space selectable KAN.", ["Kolmogorov-Arnold"]),
    ("Which papers work with EEG signals or brain-computer interfaces?", r"\bEEG\b|brain-computer", "Three EEG/BCI papers.", ["EEG"]),
    ("Which papers are about mixture-of-experts models?", r"mixture[- ]of[- ]experts?|\bMoE\b", "Twelve mixture-of-experts papers.", ["Mixture"]),
    ("Which papers study binarized networks or binary weights?", r"binary weights|binarized|binary neural|network binarization", "BinaryConnect, BiBench, BiPer and others.", ["binar"]),
    ("Which papers deal with Hopfield networks?", r"hopfield", "Hopfield Networks is All You Need; replica symmetry breaking in dense networks.", ["Hopfield"]),
    ("Which papers do image super-resolution?", r"super-resolution", "Five super-resolution papers.", ["super-resolution"]),
    ("Which papers are about diffusion models?", r"diffusion model", "Ten diffusion-model papers.", ["diffusion model"]),
    ("Which papers diagnose Alzheimer's disease?", r"Alzheimer", "SGUQ; 'Is a PET all you need?'.", ["Alzheimer"]),
    ("Which papers do time series forecasting or classification?", r"time series|time-series", "Nine time-series papers.", ["time series"]),
]


def main() -> None:
    papers = load_corpus(PROJECT_ROOT / "data" / "seeds").papers
    ids = [p.paper_id for p in papers]
    rows = []

    def resolve(prefix: str) -> str:
        found = [i for i in ids if i.startswith(prefix)]
        assert len(found) == 1, (prefix, found)
        return found[0]

    for n, (kind, q, prefixes, ref, keys) in enumerate(ITEMS, start=1):
        rows.append({"id": f"q{n:02d}", "question": q, "type": kind, "gold": [resolve(p) for p in prefixes],
                     "reference": ref, "key_strings": keys})
    for n, (q, pattern, ref, keys) in enumerate(LISTS, start=len(rows) + 1):
        gold = [p.paper_id for p in papers if re.search(pattern, f"{p.title} {p.abstract}", re.I)]
        rows.append({"id": f"q{n:02d}", "question": q, "type": "list", "gold": gold, "reference": ref,
                     "key_strings": keys, "search": f"regex /{pattern}/i over every title and abstract"})
    out = PROJECT_ROOT / "eval" / "dev_q01_q71.jsonl"  # the rest of dev.jsonl was written by a helper
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"{len(rows)} questions -> {out}")


if __name__ == "__main__":
    main()
