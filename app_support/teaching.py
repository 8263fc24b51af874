"""The sentences that teach: one per chart ("what to notice", with a number to check where there is
one), and the few statements several pages make, written once so they cannot drift apart.

docs/TEACHING.md lists them page by page; tests/test_teaching.py checks that each one is shown.
Plain strings and string helpers only: no maths, no streamlit.
"""

# One precision statement, used on every page that mentions it.
PRECISION = "float32 keeps about 7 significant digits, float64 about 16"
GAP_FLOAT32 = "about 1e-7"      # the twin gap a learner should expect, by dtype
GAP_FLOAT64 = "about 1e-15"

WHY_ROUNDING_DIFFERS = (
    "Float addition is not associative: (a + b) + c and a + (b + c) can differ in the last digit, "
    "and NumPy's and PyTorch's matrix products add up their terms in different orders, so the same "
    "formula rounds differently in the two twins.")

# chart -> what to notice in it. Keys name the chart, not the page: some charts appear twice.
NOTICE = {
    "loss": ("**What to notice:** the loss starts near ln 10 ≈ 2.30 (a uniform guess among 10 "
             "digits) and falls. Batch loss (lines) is noisy, validation loss (points) is smooth. "
             "If the validation loss turns up while the batch loss keeps falling, the network is "
             "overfitting. The plotted loss is the cross-entropy alone, without the L2 penalty."),
    "accuracy": ("**What to notice:** training accuracy (lines) is a running average over the "
                 "current epoch, so it restarts at each epoch's first step; it starts near chance, "
                 "10 %. Validation accuracy (points) that stalls while training accuracy keeps "
                 "climbing is overfitting: the network memorises its training digits."),
    "gap_float32": ("**What to notice:** same maths, same data, same starting weights, same dropout "
                    "masks: the twins differ only by rounding, " + GAP_FLOAT32 + " per step in "
                    "float32 (" + PRECISION + "), slowly amplified by training. "
                    + WHY_ROUNDING_DIFFERS + " Switch **float64** on and train again: the gap drops "
                    "to " + GAP_FLOAT64 + "."),
    "gap_float64": ("**What to notice:** in float64 the twins agree to " + GAP_FLOAT64 + " ("
                    + PRECISION + "), about a hundred million times closer than float32's "
                    + GAP_FLOAT32 + ". What is left is rounding: " + WHY_ROUNDING_DIFFERS),
    "speed": ("**What to notice:** each twin's samples per second, timed over its own training "
              "steps only. On small networks the NumPy twin is usually ahead (the Speed page says "
              "why); the numbers move with the machine's load."),
    "gradients": ("**What to notice:** each line is a layer's RMS gradient, √(mean of the squared "
                  "entries of dW and db), so layers of any size compare. All layers falling together "
                  "as the loss falls is normal: the network is converging. Vanishing gradients look "
                  "different: from the first steps the first layers sit orders of magnitude below "
                  "the last (try sigmoid with 5 hidden layers of 32)."),
    "weights": ("**What to notice:** each square is one {unit}'s 784 incoming weights laid out as "
                "the 28×28 image: blue pixels push it up, red pixels push it down, white ones do not "
                "matter. {shown} Pixels that no training digit inks ({blank} of 784 here, mostly "
                "at the border) never get a gradient, so their weights keep their random starting "
                "values (shrunk by L2, if on): that speckle means nothing."),
    "history": ("**What to notice:** x is in epochs, so runs with other batch sizes line up; compare "
                "where each curve flattens and which ends highest."),
    "class_counts": ("**What to notice:** balanced classes (the shipped sample has 500 of each "
                     "digit) mean guessing scores 10 %, and a network cannot score high by "
                     "favouring one digit."),
    "sample_grid": ("**What to notice:** the same digit is written in many ways: slanted, thick, "
                    "open or closed. That variety is what the network must learn to ignore."),
    "mean_digits": ("**What to notice:** each pixel is the mean over all examples of that digit. A "
                    "blurry but recognisable average shows the digits are centred the same way, "
                    "which is what lets a network that sees pixels, not shapes, learn them."),
    "probabilities": ("**What to notice:** the ten probabilities sum to 1; a confident network puts "
                      "nearly all of it on one digit, a puzzled one spreads it."),
    "activations": ("**What to notice:** one cell per unit, brighter = larger. With ReLU many units "
                    "are exactly 0 for a given digit: they are off, and pass no gradient back."),
    "histograms": ("**What to notice:** healthy weights spread around 0; gradients are small but "
                   "not all zero. A bar is a range of values, so a tall bar at 0 means *near* 0. "
                   "In layer 1, {zero_rows} of 784 pixel rows of dW are exactly 0: pixels with no "
                   "ink in any of these digits get no gradient at all."),
    "confusion": ("**What to notice:** row = the true digit, column = the prediction; darker blue = "
                  "more digits. The dark diagonal counts the hits. Every number off the diagonal is "
                  "a mistake; most are 0 or a few, so those cells stay nearly white."),
    "speed_page": ("**What to notice:** the NumPy ÷ PyTorch ratio is largest at small batches, "
                   "where PyTorch's fixed cost per operation dominates, and shrinks towards 1 as "
                   "the batch grows and both spend their time in the same matrix products."),
    # The Network health page (app_support.health_figures fills in the saturated chart's numbers).
    "health_weights": ("**What to notice:** the line is each layer's median weight and the bands, from "
                       "light to dark, hold all, 86 %, 68 % and 38 % of its sampled weights; they "
                       "drift and widen slowly while the network learns, and bands that suddenly burst "
                       "apart mean the steps are too big: lower the learning rate."),
    "health_gradients": ("**What to notice:** gradients usually spread widest in the first steps and "
                         "narrow as the loss falls; each layer has its own scale, so read the axis "
                         "numbers: if the first layer's are orders of magnitude smaller than the last "
                         "layer's, the gradient is vanishing on its way back (try ReLU or fewer "
                         "layers), and bands that keep widening warn of divergence (lower the learning "
                         "rate)."),
    "health_activations": ("**What to notice:** these are the hidden units' outputs f(z) on the "
                           "training batch: ReLU outputs pile up at 0 with a tail above it, and "
                           "sigmoid or tanh outputs should stay off their limits (0 and 1, or −1 and "
                           "1); bands collapsed onto 0 (ReLU) or pressed against a limit (sigmoid, "
                           "tanh) mean units that have stopped learning, so lower the learning rate."),
    "health_dead_relu": ("**What to notice:** a unit counted here output 0 for every digit of the "
                         "batch, so no gradient reached its weights through it: a few percent come and "
                         "go, but a share that climbs and stays high means units that have died for "
                         "good, so lower the learning rate or try leaky_relu."),
    "health_dead_leaky_relu": ("**What to notice:** a unit counts here when its input is negative for "
                               "every digit of the batch; leaky ReLU still passes 1 % of the gradient "
                               "there, so such a unit recovers only slowly: if the share climbs, lower "
                               "the learning rate."),
    "health_saturated": ("**What to notice:** a saturated unit sits on a flat end of its {activation} "
                         "for at least {almost_every} % of the batch (its slope below {slope} % of the "
                         "steepest), so almost no gradient flows back through it: if the share climbs, "
                         "lower the learning rate or try ReLU."),
    "health_update_ratio": ("**What to notice:** each line is how far one step moves a layer's "
                            "weights, ‖ΔW‖ / ‖W‖; about 10⁻³ is the rule of thumb for healthy learning "
                            "(the shaded band runs from 10⁻⁴ to 10⁻²): lines that climb well above the "
                            "band mean the steps are too big (lower the learning rate), lines far below "
                            "it mean the layer hardly learns (raise it)."),
}


def plural(n: int, word: str) -> str:
    """'1 digit', '2 digits', '1,000 digits'."""
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def ordinal(n: int) -> str:
    """1 -> '1st', 2 -> '2nd', 9 -> '9th', 11 -> '11th', 22 -> '22nd'."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
