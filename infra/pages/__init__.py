"""HTML for people: one set of autoescaped Jinja2 templates, rendered for the console's pages
and for the self-contained offline files (a deduction's audit, the compliance report), with
the charts' geometry computed in Python (`rendering`, `templating`)."""
