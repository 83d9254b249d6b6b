# Omnibot: one image for every role (`omnibot run`, `omnibot migrate`, `omnibot ibsim`).
# Slim and non-root; the source lives in /app, installed in place (editable) so `omnibot migrate` finds the
# Alembic scripts beside the packages.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MPLCONFIGDIR=/tmp/matplotlib

WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY alembic ./alembic
COPY core ./core
COPY ledger ./ledger
COPY broker ./broker
COPY copytrade ./copytrade
COPY payments ./payments
COPY alerts ./alerts
COPY reports ./reports
COPY bot ./bot
COPY omnibot ./omnibot
RUN pip install --editable . \
    && useradd --create-home --uid 10001 --user-group omnibot

USER omnibot
ENTRYPOINT ["omnibot"]
CMD ["run"]
