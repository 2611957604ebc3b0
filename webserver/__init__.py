"""serve.py's HTTP side: the Starlette application (app.py) and the uvicorn server in front of it
(front.py). serve.py owns what is served (its allow-list, templating and headers, as plain data);
this package carries it over ASGI. Needs requirements.txt; imported only when serving.
"""
