"""Stage 5, publish: tell others what the results say, made from the results
document and the package path only.

    summary   the facts every output shares (verdict, exit code, failing checks,
              paths) and the stable JSON of `gacert run --format json`
    junit     JUnit XML: one testsuite per policy, one testcase per check
    github    GitHub Actions: step summary, step outputs, annotations at policy lines
    commands  GitHub's workflow commands, escaped (also used by `gacert validate`)
    outputs   every output of a finished run, in one call
    notify    notifications (Slack, a generic webhook, email) of a run's or a
              watch's verdict and of gate checks that turn failing; one module
              per target: `slack`, `webhook`, `mail`
"""
