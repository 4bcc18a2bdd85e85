"""benchmarks.child: a benchmark's child flags named after its Config's fields."""

from benchmarks import input_pipeline, validation_stats
from benchmarks.child import config_flags


def test_each_named_field_becomes_one_flag_in_the_order_given():
    cfg = validation_stats.Config(out_dir="/o", rows=5, shards=3)
    assert config_flags(cfg, "shards", "rows") == ["--shards=3", "--rows=5"]
    assert config_flags(cfg) == []


def test_the_benchmarks_children_get_their_configs_values():
    argv = validation_stats.argv(validation_stats.Config(out_dir="/o", rows=5, workers=(1, 3)))
    assert argv[3:] == ["--rows=5", "--shards=8", "--workers=1,3", "--repeats=1", "--out=/o"]
    argv = input_pipeline.argv(input_pipeline.Config(out_dir="/o", image_dir="/i", images=7, repeats=2))
    assert {"--generate_images=7", "--image_dir=/i", "--image_size=224", "--batch_size=32", "--repeats=2"} <= set(argv)
