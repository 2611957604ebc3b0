"""What each page shows. View code only: it receives core commands and renders them."""
