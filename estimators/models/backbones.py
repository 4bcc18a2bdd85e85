"""Every image classification backbone tf.keras.applications 2.15 ships, generated from one family table.

A family row holds what its members share: the Keras module (whose
``preprocess_input`` is the reference for the convention), the convention
(input_fns/preprocessing.py), Keras's own minimum input size
(``imagenet_utils.obtain_input_shape(min_size=...)``), the sizes its ImageNet
weights take when fixed and the notop weights URL pattern. A member adds its name and Keras's own
parameter count with ``include_top=False`` (tests/e2e/test_zoo.py checks each).

No TensorFlow here: the registry, read by the flag layer, makes a ModelEntry
per backbone from this table; estimators/models/transfer.py resolves
``tf.keras.applications.<application>`` only when a model is built.
"""

from __future__ import annotations

import dataclasses
import os

CAFFE, TF, TORCH, RAW = "caffe", "tf", "torch", "raw"  # input_fns.preprocessing's names (no TF import here)
_KERAS = "https://storage.googleapis.com/tensorflow/keras-applications/"


@dataclasses.dataclass(frozen=True)
class Family:
    name: str
    module: str  # tf.keras.applications.<module>
    convention: str
    min_size: int
    model: str  # the model names: "{}" is the member (lower case)
    application: str  # Keras's class names: "{}" is the member
    notop: str  # the notop weights URL: {lower} is the application in lower case, {tag} the member's tag
    members: tuple[str | tuple[str, str], ...] = ("",)  # member, or (member, tag); the tag is member.lower() else
    imagenet_sizes: tuple[int, ...] | None = None  # None: any size from min_size up
    cache: str = ""  # the file name Keras caches the weights as, when not the URL's ({lower}, {tag})


@dataclasses.dataclass(frozen=True)
class Backbone:
    name: str
    application: str  # tf.keras.applications.<application>
    family: Family
    base_params: int  # Keras's own count with weights=None, include_top=False
    notop_url: str  # what Keras downloads for weights="imagenet", include_top=False
    notop_file: str  # the name Keras caches it as, under ~/.keras/models

    @property
    def convention(self) -> str:
        return self.family.convention

    @property
    def min_size(self) -> int:
        return self.family.min_size

    @property
    def imagenet_sizes(self) -> tuple[int, ...] | None:
        return self.family.imagenet_sizes


_REGNET = tuple(f"{xy}{gf:03d}" for xy in "XY" for gf in (2, 4, 6, 8, 16, 32, 40, 64, 80, 120, 160, 320))
_DIM_ORDERING = "_weights_tf_dim_ordering_tf_kernels_notop.h5"

FAMILIES: tuple[Family, ...] = (
    Family("vgg", "vgg16", CAFFE, 32, "vgg{}", "VGG{}", _KERAS + "{lower}/{lower}" + _DIM_ORDERING, ("16", "19")),
    Family("resnet", "resnet", CAFFE, 32, "resnet{}", "ResNet{}", _KERAS + "resnet/{lower}" + _DIM_ORDERING,
           ("50", "101", "152")),
    Family("resnet_v2", "resnet_v2", TF, 32, "resnet{}_v2", "ResNet{}V2", _KERAS + "resnet/{lower}" + _DIM_ORDERING,
           ("50", "101", "152")),
    # A ResNet-RS's weights file names the resolution it was trained at: Keras takes the largest.
    Family("resnet_rs", "resnet_rs", RAW, 32, "resnet_rs{}", "ResNetRS{}", _KERAS + "resnet_rs/resnet-rs-{tag}_notop.h5",
           (("50", "50-i160"), ("101", "101-i192"), ("152", "152-i256"), ("200", "200-i256"), ("270", "270-i256"),
            ("350", "350-i320"), ("420", "420-i320"))),
    Family("inception_v3", "inception_v3", TF, 75, "inception_v3", "InceptionV3",
           _KERAS + "inception_v3/inception_v3" + _DIM_ORDERING),
    Family("inception_resnet_v2", "inception_resnet_v2", TF, 75, "inception_resnet_v2", "InceptionResNetV2",
           _KERAS + "inception_resnet_v2/inception_resnet_v2" + _DIM_ORDERING),
    Family("xception", "xception", TF, 71, "xception", "Xception", _KERAS + "xception/xception" + _DIM_ORDERING),
    # MobileNet v1/v2: Keras loads the 224 weights for a size it has none for (v1: 128-224, v2: 96-224).
    Family("mobilenet", "mobilenet", TF, 32, "mobilenet", "MobileNet", _KERAS + "mobilenet/mobilenet_1_0_224_tf_no_top.h5"),
    Family("mobilenet_v2", "mobilenet_v2", TF, 32, "mobilenet_v2", "MobileNetV2",
           _KERAS + "mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"),
    Family("mobilenet_v3", "mobilenet_v3", RAW, 32, "mobilenet_v3_{}", "MobileNetV3{}",
           _KERAS + "mobilenet_v3/weights_mobilenet_v3_{tag}_224_1.0_float_no_top_v2.h5", ("Small", "Large")),
    # Keras has NASNet ImageNet weights for the one size each was trained at.
    Family("nasnet_mobile", "nasnet", TF, 32, "nasnet_mobile", "NASNetMobile", _KERAS + "nasnet/NASNet-mobile-no-top.h5",
           imagenet_sizes=(224,), cache="nasnet_mobile_no_top.h5"),
    Family("nasnet_large", "nasnet", TF, 32, "nasnet_large", "NASNetLarge", _KERAS + "nasnet/NASNet-large-no-top.h5",
           imagenet_sizes=(331,), cache="nasnet_large_no_top.h5"),
    Family("densenet", "densenet", TORCH, 32, "densenet{}", "DenseNet{}", _KERAS + "densenet/{lower}" + _DIM_ORDERING,
           ("121", "169", "201")),
    Family("efficientnet", "efficientnet", RAW, 32, "efficientnet_b{}", "EfficientNetB{}",
           "https://storage.googleapis.com/keras-applications/{lower}_notop.h5", tuple("01234567")),
    Family("efficientnet_v2", "efficientnet_v2", RAW, 32, "efficientnet_v2_{}", "EfficientNetV2{}",
           _KERAS + "efficientnet_v2/efficientnetv2-{tag}_notop.h5", ("B0", "B1", "B2", "B3", "S", "M", "L")),
    Family("convnext", "convnext", RAW, 32, "convnext_{}", "ConvNeXt{}", _KERAS + "convnext/convnext_{tag}_notop.h5",
           ("Tiny", "Small", "Base", "Large", "XLarge")),
    Family("regnet", "regnet", RAW, 32, "regnet_{}", "RegNet{}", _KERAS + "regnet/{lower}_notop.h5", _REGNET),
)  # fmt: skip

# Keras's own parameter count of each application with weights=None, include_top=False (tests/e2e/test_zoo.py).
BASE_PARAMS: dict[str, int] = {
    "VGG16": 14_714_688, "VGG19": 20_024_384, "ResNet50": 23_587_712, "ResNet101": 42_658_176,
    "ResNet152": 58_370_944, "ResNet50V2": 23_564_800, "ResNet101V2": 42_626_560, "ResNet152V2": 58_331_648,
    "ResNetRS50": 33_696_288, "ResNetRS101": 61_675_296, "ResNetRS152": 84_724_256, "ResNetRS200": 91_337_248,
    "ResNetRS270": 128_055_520, "ResNetRS350": 162_219_360, "ResNetRS420": 190_213_216, "InceptionV3": 21_802_784,
    "InceptionResNetV2": 54_336_736, "Xception": 20_861_480, "MobileNet": 3_228_864, "MobileNetV2": 2_257_984,
    "MobileNetV3Small": 939_120, "MobileNetV3Large": 2_996_352, "NASNetMobile": 4_269_716, "NASNetLarge": 84_916_818,
    "DenseNet121": 7_037_504, "DenseNet169": 12_642_880, "DenseNet201": 18_321_984, "EfficientNetB0": 4_049_571,
    "EfficientNetB1": 6_575_239, "EfficientNetB2": 7_768_569, "EfficientNetB3": 10_783_535,
    "EfficientNetB4": 17_673_823, "EfficientNetB5": 28_513_527, "EfficientNetB6": 40_960_143,
    "EfficientNetB7": 64_097_687, "EfficientNetV2B0": 5_919_312, "EfficientNetV2B1": 6_931_124,
    "EfficientNetV2B2": 8_769_374, "EfficientNetV2B3": 12_930_622, "EfficientNetV2S": 20_331_360,
    "EfficientNetV2M": 53_150_388, "EfficientNetV2L": 117_746_848, "ConvNeXtTiny": 27_820_128,
    "ConvNeXtSmall": 49_454_688, "ConvNeXtBase": 87_566_464, "ConvNeXtLarge": 196_230_336,
    "ConvNeXtXLarge": 348_147_968, "RegNetX002": 2_336_640, "RegNetX004": 4_809_184, "RegNetX006": 5_700_320,
    "RegNetX008": 6_623_968, "RegNetX016": 8_320_640, "RegNetX032": 14_350_112, "RegNetX040": 20_833_312,
    "RegNetX064": 24_658_464, "RegNetX080": 37_742_112, "RegNetX120": 43_961_440, "RegNetX160": 52_340_704,
    "RegNetX320": 105_452_576, "RegNetY002": 2_814_844, "RegNetY004": 3_930_296, "RegNetY006": 5_475_920,
    "RegNetY008": 5_524_056, "RegNetY016": 10_366_102, "RegNetY032": 17_989_498, "RegNetY040": 19_619_928,
    "RegNetY064": 29_368_684, "RegNetY080": 37_248_812, "RegNetY120": 49_677_928, "RegNetY160": 80_687_956,
    "RegNetY320": 141_492_058,
}  # fmt: skip


def _backbones() -> dict[str, Backbone]:
    found = {}
    for family in FAMILIES:
        for item in family.members:
            member, tag = item if isinstance(item, tuple) else (item, item.lower())
            application = family.application.format(member)
            fields = {"lower": application.lower(), "tag": tag}
            url = family.notop.format(**fields)
            cache = family.cache.format(**fields) if family.cache else os.path.basename(url)
            name = family.model.format(member.lower())
            found[name] = Backbone(name, application, family, BASE_PARAMS[application], url, cache)
    return found


BACKBONES: dict[str, Backbone] = _backbones()
