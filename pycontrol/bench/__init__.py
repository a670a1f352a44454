"""Fast-path benchmarks behind ``pycontrol bench``: each module measures one component
against a peer or baseline in the same run and reports ratios."""
