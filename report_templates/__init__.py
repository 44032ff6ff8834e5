"""Report templates of gacert (packaged as `gacert.report_templates`)."""
