FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# Not root: the API and the workers need no privilege. Programs still run confined by
# Landlock, seccomp, rlimits and no_new_privs (production requires the first two; see
# docs/sandbox.md for the layers that need root, such as a uid per run).
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin hint
USER hint
ENV PORT=8001 HOST=0.0.0.0
EXPOSE 8001
CMD ["python", "-m", "hint_api.serve"]
