from keras_grow import demo


def test_demo_grows_the_network_and_writes_its_plot(tmp_path, capsys):
    result = demo.run(tmp_path, epochs=1, verbose=0)
    # 63 steps of MNIST-5k at batch 64, growth every 25 steps: two events per layer.
    assert result["widths"] == {"hidden1": 32, "hidden2": 32, "logits": 10}
    assert result["plot"].stat().st_size > 10_000
    assert (tmp_path / "grown_mlp.keras").exists()
    assert "same predictions: True" in capsys.readouterr().out
