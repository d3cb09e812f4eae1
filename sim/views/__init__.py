"""Views of a running model: the classroom app, the map and charts, act-now interventions,
animations and notebook summaries. The model never imports them."""
