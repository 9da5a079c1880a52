"""The reference for bench.status_polling: a bare Flask "hello" route, served the same way."""
from flask import Flask

app = Flask(__name__)


@app.get("/hello")
def hello():
    return {"hello": "world"}
