# storydedup service image: `docker compose up` runs it with Redis.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    PATH="/app/.venv/bin:$PATH"

RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
COPY proto ./proto
COPY service ./service
COPY clients ./clients
RUN uv sync --locked --no-dev

RUN useradd --system --uid 10001 storydedup
USER storydedup
ENV STORYDEDUP_HOST=0.0.0.0 STORYDEDUP_PORT=50051
EXPOSE 50051
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-m", "storydedup.api.healthcheck"]
ENTRYPOINT ["storydedup-server"]
