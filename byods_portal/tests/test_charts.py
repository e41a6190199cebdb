import re

from operations.charts import Series, bar_chart


def chart(values, **kw):
    return bar_chart(
        chart_id="c",
        title="Things <per> hour",
        desc="A description & more",
        labels=[f"{i}h" for i in range(len(values))],
        series=[Series("ok", values, "chart-bar-ok")],
        x_label="Hour",
        y_label="Count",
        **kw,
    )


def test_an_empty_chart_says_so_and_keeps_its_axes_and_labels():
    svg = str(chart([0, 0, 0]))
    assert "No data in this period" in svg
    assert 'role="img"' in svg and 'aria-labelledby="c-title c-desc"' in svg
    assert '<title id="c-title">Things &lt;per&gt; hour</title>' in svg
    assert "A description &amp; more" in svg
    assert ">Hour<" in svg and ">Count<" in svg
    assert "<rect" not in svg


def test_bars_scale_to_a_round_maximum_and_name_their_value():
    svg = str(chart([3, 0, 7]))
    assert "No data in this period" not in svg
    assert len(re.findall(r"<rect ", svg)) == 2  # zero bars are not drawn
    assert "2h: 7 ok" in svg and "0h: 3 ok" in svg
    assert ">10</text>" in svg  # the y axis tops out at 10 for a maximum of 7


def test_ticks_are_thinned():
    svg = str(chart([1] * 48, tick_every=24))
    assert ">0h<" in svg and ">24h<" in svg and ">1h<" not in svg
