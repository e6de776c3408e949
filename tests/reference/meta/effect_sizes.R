# Reference values for alliancestats.meta.effect_sizes: every escalc measure it implements.
#
# Source of truth: metafor 3.8-1 escalc() with its defaults (vtype = "LS", add = 1/2,
# to = "only0"; add = 0 for PAS/PFT) and transf.dtorpb(). Data: metadat 1.2-0 tables
# (GPL, carried with attribution; see data/README.md) and small made-up tables written into
# the JSON, so the Python tests analyse exactly the numbers metafor analysed.
#
# Run: bash tests/reference/regenerate.sh meta   (writes effect_sizes.json next to this script)
suppressPackageStartupMessages({
    library(metafor)
    library(jsonlite)
})

num <- function(x) unname(as.numeric(x))
cases <- list()
add_case <- function(name, measure, inputs, es, extra = list()) {
    cases[[name]] <<- c(list(measure = measure, inputs = lapply(inputs, num),
                             yi = num(es$yi), vi = num(es$vi)), extra)
}

## two groups, means: Normand (1999), length of hospital stay
nd <- dat.normand1999
mean_in <- list(m1i = nd$m1i, m2i = nd$m2i, sd1i = nd$sd1i, sd2i = nd$sd2i,
                n1i = nd$n1i, n2i = nd$n2i)
for (m in c("MD", "SMD", "SMDH", "ROM")) {
    add_case(paste0("normand1999_", m), m, mean_in,
             escalc(m, m1i = m1i, m2i = m2i, sd1i = sd1i, sd2i = sd2i, n1i = n1i, n2i = n2i,
                    data = nd))
}

## SMD from reported d values and from t statistics (made-up)
dt_in <- list(di = c(0.45, -0.2, 0.8, 0.1), ti = c(2.1, -0.9, 3.3, 0.4),
              n1i = c(25, 40, 18, 60), n2i = c(27, 38, 22, 55))
add_case("smd_from_d", "SMD", dt_in[c("di", "n1i", "n2i")],
         escalc("SMD", di = dt_in$di, n1i = dt_in$n1i, n2i = dt_in$n2i))
add_case("smd_from_t", "SMD", dt_in[c("ti", "n1i", "n2i")],
         escalc("SMD", ti = dt_in$ti, n1i = dt_in$n1i, n2i = dt_in$n2i))

## 2x2 tables: BCG vaccine trials, and Li et al. (2007) with zero cells
b <- dat.bcg
tab_in <- list(ai = b$tpos, bi = b$tneg, ci = b$cpos, di = b$cneg)
for (m in c("RR", "OR", "RD", "PETO")) {
    add_case(paste0("bcg_", m), m, tab_in,
             escalc(m, ai = tpos, bi = tneg, ci = cpos, di = cneg, data = b))
}
li <- dat.li2007
li_in <- list(ai = li$ai, n1i = li$n1i, ci = li$ci, n2i = li$n2i)
for (m in c("RR", "OR", "RD", "PETO")) {
    add_case(paste0("li2007_", m), m, li_in,
             escalc(m, ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = li))
}
add_case("li2007_OR_all", "OR", li_in,
         escalc("OR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = li, to = "all"),
         list(to = "all"))

## proportions: Pritz (1997), plus a made-up table with a zero and a full count
pr <- dat.pritz1997
pr_in <- list(xi = pr$xi, ni = pr$ni)
z_in <- list(xi = c(0, 5, 12, 30), ni = c(20, 30, 40, 30))
for (m in c("PR", "PLN", "PLO", "PAS", "PFT")) {
    add_case(paste0("pritz1997_", m), m, pr_in, escalc(m, xi = xi, ni = ni, data = pr))
    if (m != "PLN") {
        add_case(paste0("zero_events_", m), m, z_in, escalc(m, xi = z_in$xi, ni = z_in$ni))
    }
}

## incidence rates: Hart (1999), warfarin vs aspirin trials
h <- dat.hart1999
add_case("hart1999_IR", "IR", list(xi = h$x1i, ti = h$t1i), escalc("IR", xi = x1i, ti = t1i, data = h))
add_case("hart1999_IRLN", "IRLN", list(xi = h$x1i, ti = h$t1i),
         escalc("IRLN", xi = x1i, ti = t1i, data = h))
rate_in <- list(x1i = h$x1i, t1i = h$t1i, x2i = h$x2i, t2i = h$t2i)
for (m in c("IRR", "IRD")) {
    add_case(paste0("hart1999_", m), m, rate_in,
             escalc(m, x1i = x1i, t1i = t1i, x2i = x2i, t2i = t2i, data = h))
}

## partial and semi-partial correlations: Aloe (2013)
al <- dat.aloe2013
pc_in <- list(ti = al$tval, ni = al$n, mi = al$preds, r2i = al$R2)
add_case("aloe2013_PCOR", "PCOR", pc_in[c("ti", "ni", "mi")],
         escalc("PCOR", ti = tval, ni = n, mi = preds, data = al))
add_case("aloe2013_ZPCOR", "ZPCOR", pc_in[c("ti", "ni", "mi")],
         escalc("ZPCOR", ti = tval, ni = n, mi = preds, data = al))
add_case("aloe2013_SPCOR", "SPCOR", pc_in,
         escalc("SPCOR", ti = tval, ni = n, mi = preds, r2i = R2, data = al))

## change scores (made-up pre/post table): m1i = post, m2i = pre, sd1i = pre SD
ch_in <- list(m1i = c(26.1, 31.5, 18.2, 40.3, 22.0), m2i = c(22.4, 27.9, 17.1, 33.5, 22.8),
              sd1i = c(6.2, 7.4, 4.8, 9.9, 5.1), sd2i = c(6.9, 7.0, 5.5, 10.4, 5.6),
              ri = c(0.55, 0.7, 0.42, 0.61, 0.8), ni = c(24, 40, 15, 52, 31))
for (m in c("MC", "SMCC")) {
    add_case(paste0("change_", m), m, ch_in,
             escalc(m, m1i = ch_in$m1i, m2i = ch_in$m2i, sd1i = ch_in$sd1i, sd2i = ch_in$sd2i,
                    ri = ch_in$ri, ni = ch_in$ni))
}
add_case("change_SMCR", "SMCR", ch_in[c("m1i", "m2i", "sd1i", "ri", "ni")],
         escalc("SMCR", m1i = ch_in$m1i, m2i = ch_in$m2i, sd1i = ch_in$sd1i, ri = ch_in$ri,
                ni = ch_in$ni))

## explicit d -> r conversion (Jacobs & Viechtbauer 2017)
conv <- list(d = c(0.2, 0.5, -0.8, 1.4), n1i = c(20, 50, 12, 100), n2i = c(80, 50, 30, 90))
conversions <- list(inputs = conv, r_jacobs = num(transf.dtorpb(conv$d, conv$n1i, conv$n2i)),
                    r_equal_groups = num(transf.dtorpb(conv$d)))

out <- list(
    versions = list(R = R.version.string, metafor = as.character(packageVersion("metafor")),
                    metadat = as.character(packageVersion("metadat"))),
    cases = cases,
    conversions = conversions
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null",
                  pretty = TRUE), "effect_sizes.json")
cat("wrote effect_sizes.json with", length(cases), "cases\n")
